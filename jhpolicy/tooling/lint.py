"""Check a policy folder before it ships: what OPA would refuse to load
(``opa check --strict`` for the Rego; loading the folder for ``opa eval``
for the data files, which ``opa check`` does not read), then the data's
problems as the policy itself names them (the rule
``data.jupyterhub.spawn.problems_everywhere``: every allowance and quota in
data.jhpolicy, whoever it governs). `jhpolicy lint` prints them;
`jhpolicy configmap` and `jhpolicy bundle` refuse to build from a folder
that has any, with the same messages.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

PROBLEMS_RULE = "data.jupyterhub.spawn.problems_everywhere"


class LintError(Exception):
    """The folder could not be checked at all (no OPA, no folder)."""


DECISION_PATH = "jupyterhub/spawn/decision"


def check(opa: str, folder: Path, decision_path: str = DECISION_PATH) -> tuple[list[str], list[str]]:
    """(problems, warnings), one line each, from one OPA check and one query.

    Beyond what OPA would not load and what the data checks find: what OPA
    loads but a hub could not use, each with what to do (no policy files,
    the folder `jhpolicy init` made instead of its policies/, no rule at the
    decision path, jhpolicy's policy without a `jhpolicy` key in its data),
    and group names no JupyterHub group can match as written. Warnings:
    what is likely a mistake but may be meant (group names that differ only
    by case; JupyterHub's group names are case-sensitive)."""
    if not folder.is_dir():
        raise LintError(f"{folder}: no such folder")
    if (folder / "policies").is_dir() and any((folder / "policies").glob("*.rego")) and not any(folder.glob("*.rego")):
        return [f"this is the folder `jhpolicy init` made, not its policies: give --policies {folder / 'policies'}"], []
    if not any(folder.rglob("*.rego")):
        return ["no policy (.rego) files in it: give the folder that holds your policies and their data.json"], []
    checked = _run([opa, "check", "--strict", "--format=json", str(folder)])
    if checked.returncode != 0:
        return _opa_errors(checked), []
    rule = "data." + decision_path.strip("/").replace("/", ".")
    # One query; each part a comprehension, so an undefined one is [] and not an undefined query.
    evaluated = _run([opa, "eval", "--format=json", "--data", str(folder),
                      f"r := {{\"problems\": [x | x := {PROBLEMS_RULE}], \"decision\": [x | x := {rule}], "
                      "\"jhpolicy\": [x | x := data.jhpolicy]}"])
    if evaluated.returncode != 0:
        return _opa_errors(evaluated), []
    parts = json.loads(evaluated.stdout)["result"][0]["bindings"]["r"]
    found = {key: values[0] for key, values in parts.items() if values}
    if "decision" not in found and not _only_system_packages(folder):
        return [f"no rule at {decision_path} (what PolicyKubeSpawner.opa_decision_path asks): every spawn would be "
                "refused; is the package jupyterhub.spawn, with a rule named decision?"], []
    if "problems" not in found:
        return [], []  # a policy of one's own without jhpolicy's data checks: OPA's check is all there is
    if not isinstance(found.get("jhpolicy"), dict):
        return ['its data has no "jhpolicy" object, so every allowance is empty and every spawn refused: '
                'data.json must be {"jhpolicy": {"groups": ..., "quotas": ..., "requesters": ...}}'], []
    errors, warned = group_name_problems(found["jhpolicy"])
    listed = [f"data.jhpolicy: {problem}" for problem in [*sorted(found["problems"]), *errors]]
    return listed, [f"data.jhpolicy: {warning}" for warning in warned]


def _only_system_packages(folder: Path) -> bool:
    """A folder of OPA's own policies (package system.authz, system.log),
    such as helm-values/opa-authz: it decides no spawn, and needs no rule to."""
    packages = {match.group(1) for path in folder.rglob("*.rego")
                for match in [re.search(r"^package\s+([\w.]+)", path.read_text(), re.M)] if match}
    return bool(packages) and all(p == "system" or p.startswith("system.") for p in packages)


def group_name_problems(data: object) -> tuple[list[str], list[str]]:
    """(errors, warnings) for the group names the data uses: names with
    leading or trailing whitespace cannot match a JupyterHub group as
    written; names that differ only by case from another are suspicious."""
    if not isinstance(data, dict):
        return [], []
    named: dict[str, str] = {}
    groups = data.get("groups") if isinstance(data.get("groups"), dict) else {}
    quotas = data.get("quotas") if isinstance(data.get("quotas"), dict) else {}
    for name in groups:
        named.setdefault(name, f"groups.{name!r}")
    for name in quotas.get("groups") or {} if isinstance(quotas.get("groups"), dict) else {}:
        named.setdefault(name, f"quotas.groups.{name!r}")
    for name in quotas.get("charge_order") or [] if isinstance(quotas.get("charge_order"), list) else []:
        if isinstance(name, str):
            named.setdefault(name, f"quotas.charge_order {name!r}")
    errors = [f"{where}: the group name has leading or trailing whitespace, so it matches no JupyterHub group as "
              f"written (did you mean {name.strip()!r}?)" for name, where in named.items() if name != name.strip()]
    by_case: dict[str, list[str]] = {}
    for name in named:
        by_case.setdefault(name.strip().casefold(), []).append(name)
    warned = [f"group names {', '.join(repr(n) for n in sorted(names))} differ only by case: JupyterHub's group "
              "names are case-sensitive, so they are different groups" for names in by_case.values() if len(set(names)) > 1]
    return errors, warned


def _opa_errors(done: subprocess.CompletedProcess) -> list[str]:
    """OPA's own words, one line each: file:row: what it could not load."""
    text = (done.stdout or done.stderr).strip()
    try:
        errors = json.loads(text)["errors"]
    except (ValueError, KeyError, TypeError):
        return [line for line in text.splitlines() if line.strip()] or [f"opa exited with {done.returncode}"]
    lines = []
    for error in errors:
        where = error.get("location") or {}
        prefix = f"{where['file']}:{where.get('row', 0)}: " if where.get("file") else ""
        lines.append(prefix + str(error.get("message", error)))
    return lines


def _run(command: list[str]) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=120)
    except OSError as e:
        raise LintError(f"cannot run {command[0]}: {e}") from None
