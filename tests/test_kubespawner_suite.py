"""KubeSpawner's own test suite with PolicyKubeSpawner in KubeSpawner's place.

The suite (tests/upstream/kubespawner/<version>, vendored from KubeSpawner's
repository) runs on the local API server with kwok nodes twice, in a venv
with KubeSpawner's test dependencies (.venv-ks-<version>, made by ./dev):
as KubeSpawner, then as PolicyKubeSpawner with a policy that allows
everything (tests/upstream/kubespawner/jhpolicy_dropin.py). Code written for
KubeSpawner must not tell the two apart: every test that differs is listed,
with its reason, in tests/upstream/kubespawner/results.yaml, and this test
fails on any difference not listed there (and on a listed one that went away).

Each pytest pass runs the suite of the KubeSpawner version it has installed:
7.1.0 in the newest pass, 7.0.0 in the z2jh pass.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import xml.etree.ElementTree as ET
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml

# Runs in a venv of its own (.venv-ks-<version>, both versions in one test), whichever venv runs pytest: one
# version set is enough (conftest.py, ONCE).
pytestmark = pytest.mark.once

ROOT = Path(__file__).resolve().parents[1]
UPSTREAM = ROOT / "tests" / "upstream" / "kubespawner"
VERSION = version("jupyterhub-kubespawner")
RESULTS = yaml.safe_load((UPSTREAM / "results.yaml").read_text())[VERSION]


def run_suite(cluster, tmp_path: Path, name: str, dropin_opa_url: str | None = None) -> tuple[dict[str, str], dict]:
    """Outcome of each test of the suite, by id, and the drop-in's report."""
    python = ROOT / f".venv-ks-{VERSION}" / "bin" / "python"
    assert python.exists(), f"{python.parent.parent} is missing: run ./dev setup (it makes the venv KubeSpawner's suite runs in)"
    junit, report = tmp_path / f"{name}.xml", tmp_path / f"{name}-report.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "KUBERNETES_", "JUPYTERHUB_"))}
    env.update(KUBECONFIG=str(cluster.kubeconfig), PYTHONPATH=str(UPSTREAM))
    args = [str(python), "-m", "pytest", "-c", str(UPSTREAM / "pytest.ini"), "-p", "no:cacheprovider", "-q", f"--junit-xml={junit}"]
    if dropin_opa_url:
        env.update(JHPOLICY_DROPIN_OPA_URL=dropin_opa_url, JHPOLICY_DROPIN_REPORT=str(report))
        args += ["-p", "jhpolicy_dropin"]
    # A hang guard only: the suite takes about 30 s here.
    run = subprocess.run([*args, VERSION], cwd=UPSTREAM, env=env, capture_output=True, text=True, timeout=1800)
    (tmp_path / f"{name}.log").write_text(run.stdout + run.stderr)
    assert junit.exists(), f"KubeSpawner's suite did not run ({name}, exit {run.returncode}):\n{run.stdout[-3000:]}{run.stderr[-3000:]}"
    return outcomes(junit), json.loads(report.read_text()) if dropin_opa_url else {}


def outcomes(junit: Path) -> dict[str, str]:
    """`file.py::test` -> "passed", "skipped", or "failed: <first line>" /
    "error: <first line>" with addresses, numbers and node names blanked, so
    a test that fails differently in the two runs counts as a difference."""
    result = {}
    for case in ET.parse(junit).iter("testcase"):
        test_id = case.get("classname").split(".")[-1] + ".py::" + case.get("name")
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                first = (child.get("message") or "").splitlines()[0] if child.get("message") else ""
                # Blank what varies from run to run: addresses, numbers, and
                # the node the scheduler picked ("assigned … to kwok-gpu-0").
                first = re.sub(r"\bkwok-[\w-]+", "NODE", first)
                outcome = f"{child.tag}: " + re.sub(r"0x[0-9a-f]+|\d+", "N", first)[:200]
                break
            if child.tag == "skipped":
                outcome = "skipped"
        result[test_id] = outcome
    return result


@pytest.fixture(scope="module")
def runs(cluster, opa, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("kubespawner-suite")
    plain, _ = run_suite(cluster, tmp, "kubespawner")
    dropin, report = run_suite(cluster, tmp, "policykubespawner", dropin_opa_url=opa.url)
    return plain, dropin, report


def test_the_whole_suite_ran_both_ways(runs):
    plain, dropin, report = runs
    assert len(plain) == len(dropin) == RESULTS["tests"], (len(plain), len(dropin))
    assert report["spawner"] == "PolicyKubeSpawner"
    # The suite starts about a dozen servers: each went through a policy decision.
    assert report["decided"] >= 10, report


def test_policykubespawner_differs_from_kubespawner_only_where_listed(runs):
    plain, dropin, _ = runs
    differ = {t: (plain.get(t), dropin.get(t)) for t in plain.keys() | dropin.keys() if plain.get(t) != dropin.get(t)}
    unlisted = {t: d for t, d in differ.items() if t not in RESULTS["differ"]}
    gone = sorted(set(RESULTS["differ"]) - set(differ))
    assert not unlisted, f"differ from KubeSpawner (KubeSpawner, PolicyKubeSpawner): {unlisted}"
    assert not gone, f"listed in results.yaml as differing, but the same now: {gone}"


def test_what_fails_with_kubespawner_itself_is_listed_with_its_reason(runs):
    plain, _, _ = runs
    failing = {t for t, outcome in plain.items() if outcome not in ("passed", "skipped")}
    assert failing == set(RESULTS["fail_here"]), {
        "fail, not listed": sorted(failing - set(RESULTS["fail_here"])),
        "listed, but pass": sorted(set(RESULTS["fail_here"]) - failing),
    }
