"""jhpolicy as an admin installs it: the wheel built from this checkout,
installed into a folder outside it (next to another package's
pyproject.toml, as site-packages can be), run from another directory with
no checkout in reach. Everything the commands need comes with the wheel."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser

import pytest
import yaml

from jhpolicy import __version__
from jhpolicy.tooling.opa_binary import find_opa

from .helpers.policies import ROOT

# The `jhpolicy` command runs where the admin installs it (pip's newest JupyterHub
# and KubeSpawner), not in the hub: one version set (conftest.py, ONCE).
pytestmark = pytest.mark.once


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    base = tmp_path_factory.mktemp("wheel")
    dist = base / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), str(ROOT)],
                   check=True, capture_output=True, timeout=600)
    (wheel,) = dist.glob("jhpolicy-*.whl")
    site = base / "lib" / "site-packages"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(site), str(wheel)],
                   check=True, capture_output=True, timeout=600)
    (site / "pyproject.toml").write_text('[project]\nname = "someone-elses"\n')
    cache = base / "cache"
    (cache / "jhpolicy" / "bin").mkdir(parents=True)
    shutil.copy(find_opa(), cache / "jhpolicy" / "bin" / "opa")
    env = {k: v for k, v in os.environ.items() if k != "JHPOLICY_OPA"}
    env.update(PYTHONPATH=str(site), XDG_CACHE_HOME=str(cache), PATH="/usr/bin:/bin")
    work = base / "work"
    work.mkdir()

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "jhpolicy.cli", *args], env=env, cwd=work,
                              capture_output=True, text=True, timeout=300)

    run.wheel, run.site, run.cache, run.work, run.env = wheel, site, cache, work, env
    return run


def test_it_runs_from_the_installed_copy(installed):
    where = subprocess.run([sys.executable, "-c", "import jhpolicy; print(jhpolicy.__file__)"],
                           env=installed.env, cwd=installed.work, capture_output=True, text=True)
    assert where.stdout.startswith(str(installed.site)), where


def test_the_wheel_is_release_ready(installed):
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = wheel.namelist()
        metadata = Parser().parsestr(wheel.read(f"jhpolicy-{__version__}.dist-info/METADATA").decode())
    assert f"jhpolicy-{__version__}.dist-info/licenses/LICENSE" in names
    assert metadata["Version"] == __version__ and metadata["License-Expression"] == "BSD-3-Clause"
    requires = metadata.get_all("Requires-Dist")
    # The hub needs only what deciding needs; the CLI's local OPA client is an extra.
    assert [r for r in requires if "extra ==" not in r] == [
        "httpx>=0.27", "jupyterhub-kubespawner>=7.0", "jupyterhub>=5.5", "pyyaml>=6"]
    assert "opa-python-client>=2.0; extra == 'cli'" in requires
    # A short description of its own, not the README (no machine's timings, no relative links).
    description = metadata.get_payload()
    assert description.startswith("# jhpolicy") and len(description) < 3000 and "](#" not in description
    for shipped in ("jhpolicy/policies/spawn.rego", "jhpolicy/helm-values/jhpolicy.yaml",
                    "jhpolicy/z2jh/jupyterhub-4.4.0.tgz", "jhpolicy/z2jh/LICENSE", "jhpolicy/starter/cases.yaml",
                    "jhpolicy/starter/.github/workflows/jhpolicy.yml", "jhpolicy/offline-kubeconfig.yaml"):
        assert shipped in names, shipped


def test_opa_is_found_in_the_users_cache_never_in_site_packages(installed):
    result = installed("install-opa")
    assert (result.returncode, result.stdout) == (0, f"{installed.cache / 'jhpolicy' / 'bin' / 'opa'}\n"), result.stderr
    assert not (installed.site / ".tools").exists() and not (installed.work / ".tools").exists()


def test_check_and_values_with_the_shipped_files(installed, tmp_path):
    assert installed("check", "--user", "a", "--group", "students").returncode == 0
    config = tmp_path / "config.yaml"
    config.write_text("singleuser:\n  image: {name: quay.io/jupyter/scipy-notebook, tag: '2024-10-07'}\n")
    combined = installed("values", "--stack", "bundles", "-f", str(config))
    assert combined.returncode == 0, combined.stderr
    values = yaml.safe_load(combined.stdout)
    assert values["singleuser"]["image"]["name"] == "quay.io/jupyter/scipy-notebook"
    assert "jhpolicy" in values["hub"]["extraConfig"]
    dry = installed("check", "--user", "a", "--group", "students", "--values", str(config), "--json")
    assert dry.returncode == 0, dry.stderr
    assert yaml.safe_load(dry.stdout)["pod"]["image"] == "quay.io/jupyter/scipy-notebook:2024-10-07"


def test_init_then_test_from_the_wheel(installed):
    folder = installed.work / "hub-policy"
    made = installed("init", str(folder))
    assert made.returncode == 0, made.stderr
    assert (folder / ".github" / "workflows" / "jhpolicy.yml").is_file()
    ran = installed("test", str(folder / "cases.yaml"))
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert " 0 failed" in ran.stdout


def test_init_keeps_the_very_wheel_it_was_installed_from(installed):
    # The CI workflow `jhpolicy init` writes installs it (#29 item 6): before,
    # it asked a package index for a jhpolicy none carries.
    made = installed("init", "policy-repo")
    assert made.returncode == 0, made.stderr
    kept = installed.work / "policy-repo" / ".github" / "jhpolicy" / installed.wheel.name
    workflow = (installed.work / "policy-repo" / ".github" / "workflows" / "jhpolicy.yml").read_text()
    assert f'JHPOLICY: "./.github/jhpolicy/{installed.wheel.name}[cli]"' in workflow
    with zipfile.ZipFile(installed.wheel) as original, zipfile.ZipFile(kept) as repacked:
        record = f"jhpolicy-{__version__}.dist-info/RECORD"
        assert sorted(set(original.namelist()) - {record}) == sorted(set(repacked.namelist()) - {record})
        for name in original.namelist():
            if name != record:
                assert original.read(name) == repacked.read(name), name
        rows = {line.split(",")[0] for line in repacked.read(record).decode().splitlines()}
        assert rows == set(repacked.namelist())
