"""The admin's CI recipe, run as written: `jhpolicy init` makes the folder
(policies/, cases.yaml, .github/workflows/jhpolicy.yml) and every `run:`
step of the workflow runs in it with bash, as GitHub Actions runs it
(`bash -eo pipefail`, $GITHUB_ENV carried to later steps). Only the step
with id `install` is not run: jhpolicy is already installed here (the
venv running these tests), and JHPOLICY_OPA points at the pinned OPA."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from jhpolicy.tooling.opa_binary import find_opa

from .helpers.cli import jhpolicy

# The `jhpolicy` command runs where the admin installs it (pip's newest JupyterHub
# and KubeSpawner), not in the hub: one version set (conftest.py, ONCE).
pytestmark = pytest.mark.once


@pytest.fixture
def policy_repo(tmp_path) -> Path:
    folder = tmp_path / "hub-policy"
    made = jhpolicy("init", str(folder))
    assert made.returncode == 0, made.stderr
    return folder


def run_workflow(folder: Path, install: Path | None = None) -> list[tuple[str, subprocess.CompletedProcess]]:
    """Each run step in order until one fails: [(its name, its result)].
    With `install`, a new virtualenv there runs the install step too, and
    every step after it (as setup-python gives a clean Python); else the
    install step is skipped and this venv's jhpolicy runs the rest."""
    workflow = yaml.safe_load((folder / ".github" / "workflows" / "jhpolicy.yml").read_text())
    (job,) = workflow["jobs"].values()
    github_env = folder.parent / "github_env"
    github_env.write_text("")
    bin_dir = Path(sys.executable).parent
    if install is not None:
        subprocess.run([sys.executable, "-m", "venv", str(install)], check=True)
        bin_dir = install / "bin"
    env = dict(os.environ, GITHUB_ACTIONS="true", GITHUB_ENV=str(github_env), JHPOLICY_OPA=find_opa(),
               PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", **workflow.get("env", {}))
    env.pop("VIRTUAL_ENV", None)
    done = []
    for step in job["steps"]:
        if "run" not in step or (step.get("id") == "install" and install is None):
            continue
        result = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                                cwd=folder, env=env, capture_output=True, text=True, timeout=600)
        done.append((step.get("name", step["run"]), result))
        if result.returncode != 0:
            break
        for line in github_env.read_text().splitlines():
            key, _, value = line.partition("=")
            env[key] = value
    return done


def test_the_recipe_installs_the_jhpolicy_that_made_it_in_a_clean_virtualenv(policy_repo, tmp_path):
    # Every step as written, the install step included (#29 item 6: it asked
    # a package index for jhpolicy==0.1.0, which none carries, without [cli]).
    done = run_workflow(policy_repo, install=tmp_path / "clean-venv")
    assert [name for name, _ in done][0] == 'pip install "$JHPOLICY"'
    assert all(result.returncode == 0 for _, result in done), done[-1][1].stdout + done[-1][1].stderr
    assert done[-1][0] == "every case gives what it says"
    version = subprocess.run([str(tmp_path / "clean-venv" / "bin" / "python"), "-c",
                              "import jhpolicy, opa_client; print(jhpolicy.__version__)"], capture_output=True, text=True)
    from jhpolicy import __version__

    assert version.stdout.strip() == __version__, version.stderr


def test_the_recipe_passes_on_what_init_makes(policy_repo):
    done = run_workflow(policy_repo)
    assert [name for name, _ in done] == [
        "OPA, the version jhpolicy pins", "Rego is formatted", "Rego compiles", "the policy's own tests",
        "the data has no problems", "every case gives what it says",
    ]
    assert all(r.returncode == 0 for _, r in done), [(n, r.stdout, r.stderr) for n, r in done if r.returncode]
    # The starter's data and hub config agree: lint, given that config, warns of nothing.
    assert dict(done)["the data has no problems"].stderr == ""
    assert "0 failed" in done[-1][1].stdout
    assert (policy_repo / "jhpolicy-cases.xml").exists()


def edit_data(folder: Path, edit) -> None:
    path = folder / "policies" / "data.json"
    data = json.loads(path.read_text())
    edit(data["jhpolicy"])
    path.write_text(json.dumps(data, indent=2))


def test_a_typo_in_the_data_stops_the_recipe_at_lint(policy_repo):
    edit_data(policy_repo, lambda d: d["groups"]["students"]["max"].update(cpu_limt=4))
    name, result = run_workflow(policy_repo)[-1]
    assert (name, result.returncode) == ("the data has no problems", 1)
    assert "group students: max.cpu_limt is not a known key" in result.stderr
    assert result.stdout == ("::error title=jhpolicy lint::policies: data.jhpolicy: group students: max.cpu_limt is not "
                             "a known key (did you mean cpu_limit? known: cpu_guarantee, cpu_limit, mem_guarantee, mem_limit)\n")


def test_a_profile_pattern_the_hub_has_no_profile_for_is_warned_of_at_lint(policy_repo):
    # Only a warning (the step passes): "Medium" is no slug of cases_hub_config.py's profiles.
    edit_data(policy_repo, lambda d: d["groups"]["students"].update(profiles=["small", "Medium"]))
    done = dict(run_workflow(policy_repo))
    lint = done["the data has no problems"]
    assert lint.returncode == 0 and "every case gives what it says" in done
    warning = ("data.jhpolicy: group students: profiles 'Medium' matches none of the hub's profiles, so it lets "
               "its members select nothing (did you mean medium? profile_list slugs: small, medium, gpu)")
    assert lint.stderr == f"jhpolicy lint: policies: warning: {warning}\n"
    # As a GitHub workflow command too, so the pull request shows it (GITHUB_ACTIONS is "true" there).
    assert f"::warning title=jhpolicy lint::policies: {warning}\n" in lint.stdout


def test_a_data_change_the_cases_do_not_expect_stops_it_at_the_cases(policy_repo):
    # Not earlier: the policy's own Rego tests never read data.json.
    edit_data(policy_repo, lambda d: d["groups"]["students"]["max"].update(cpu_limit=3))
    name, result = run_workflow(policy_repo)[-1]
    assert (name, result.returncode) == ("every case gives what it says", 1)
    assert "FAIL" in result.stdout and "pod.cpu_limit: expected 2, got 3" in result.stdout


def test_unformatted_rego_stops_it_at_fmt(policy_repo):
    rego = policy_repo / "policies" / "images.rego"
    rego.write_text(rego.read_text().replace("\t", "    ", 1))
    name, result = run_workflow(policy_repo)[-1]
    assert name == "Rego is formatted" and result.returncode != 0
    assert "images.rego" in result.stdout
