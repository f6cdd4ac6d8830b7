"""`jhpolicy init DIR`: the admin's own policy folder, to edit and keep in
version control: the shipped policies (with their Rego tests and data), the
shipped cases (cases.yaml, with the hub config they run with), a CI
workflow that checks all of it (.github/workflows/jhpolicy.yml), the wheel
of this jhpolicy it installs (.github/jhpolicy/) and the Dockerfile of a hub
image built from that wheel (hub-image/Dockerfile).

From a source checkout the files come from the repository; from an
installed package, from the copies the wheel carries (pyproject.toml,
[tool.hatch.build.targets.wheel.force-include]).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from .configmap import POLICY_SUFFIXES
from .local_opa import bundled_policies
from .own_wheel import OwnWheelError, write_own_wheel
from .shipped import shipped

# Where each file goes in the admin's folder -> where it is (in the wheel, in a checkout).
EXTRAS = {
    "cases.yaml": ("starter/cases.yaml", "cases.yaml"),
    "cases_hub_config.py": ("starter/cases_hub_config.py", "cases_hub_config.py"),
    ".github/workflows/jhpolicy.yml": ("starter/.github/workflows/jhpolicy.yml", "starter/.github/workflows/jhpolicy.yml"),
    # The hub image with this jhpolicy: its build context is WHEEL_FOLDER (install-z2jh.md, step 4A).
    "hub-image/Dockerfile": ("helm-values/hub-image/Dockerfile", "helm-values/hub-image/Dockerfile"),
}
WORKFLOW = ".github/workflows/jhpolicy.yml"
WHEEL_FOLDER = ".github/jhpolicy"


class StarterError(Exception):
    pass


def sources() -> dict[str, Path]:
    """Each file of the starter folder, by its path in that folder."""
    found = {}
    policies = bundled_policies()
    for path in sorted(policies.iterdir()):
        if path.is_file() and path.suffix in POLICY_SUFFIXES:
            found[f"policies/{path.name}"] = path
    for target, candidates in EXTRAS.items():
        path = shipped(*candidates)
        if path is None or not path.is_file():
            raise StarterError(f"{target} is missing from this installation of jhpolicy")
        found[target] = path.resolve()
    return found


def init(folder: Path) -> list[str]:
    """Write the starter files into `folder` (new or empty); their paths."""
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise StarterError(f"{folder} exists and is not an empty folder; give a new one")
    files = sources()
    for target, source in files.items():
        destination = folder / target
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)
    # The workflow installs this very jhpolicy, from its wheel kept beside it.
    try:
        wheel = write_own_wheel(folder / WHEEL_FOLDER)
    except OwnWheelError as e:
        raise StarterError(str(e)) from None
    workflow = folder / WORKFLOW
    workflow.write_text(workflow.read_text().replace(f"{WHEEL_FOLDER}/WHEEL[cli]", f"{WHEEL_FOLDER}/{wheel.name}[cli]"))
    return sorted([*files, f"{WHEEL_FOLDER}/{wheel.name}"])
