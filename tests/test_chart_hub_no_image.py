"""The route with no image build (helm-values/jhpolicy-no-image-build.yaml):
the chart's hub exactly as in tests/test_chart_hub.py, but from the hub
image's packages alone (jhpolicy is *not* pip-installed), with jhpolicy's
wheel and the five it needs from a ConfigMap made by `jhpolicy
wheels-configmap`, mounted as the kubelet mounts it.

Run it alone: `.venv/bin/python -m pytest tests/test_chart_hub_no_image.py`.
"""

from __future__ import annotations

import base64
import io
import subprocess
import sys
import zipfile

import pytest
import yaml

from jhpolicy.tooling.values import stack_files

from .e2e.chart_hub import (
    FORUM_BODY,
    USER_CONFIG,
    ChartHub,
    build_wheel,
    culler_line,
    hub_image_python,
    ready,
)
from .helpers.hub_quotas import running
from .helpers.policies import POLICIES, ROOT

# Runs in a venv of its own (.venv-hub: the z2jh hub image's packages), whichever venv runs pytest: one
# version set is enough (conftest.py, ONCE).
pytestmark = pytest.mark.once

# What the no-image-build values file tells admins to download.
DEPENDENCIES = ["httpx==0.28.1", "httpcore==1.0.9", "h11==0.16.0", "anyio==4.16.0", "jupyterhub-idle-culler==2.0.0"]


@pytest.fixture(scope="module")
def hub(cluster, pod_ips, tmp_path_factory):
    folder = tmp_path_factory.mktemp("chart-hub-no-image")
    wheels = folder / "wheels"
    build_wheel(wheels)
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                    "-d", str(wheels), *DEPENDENCIES], check=True, capture_output=True, timeout=300)
    pins = folder / "jhpolicy-wheels-values.yaml"
    made = subprocess.run([sys.executable, "-m", "jhpolicy.cli", "wheels-configmap", *map(str, sorted(wheels.iterdir())),
                           "--values-out", str(pins)], capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    configmap = yaml.safe_load(made.stdout)
    # A wheel slipped into the ConfigMap afterwards, with a jhpolicy of its own
    # (#29 item 3: before, every *.whl of the mount went first on sys.path).
    configmap["binaryData"]["aaa-0-py3-none-any.whl"] = base64.b64encode(impostor_wheel()).decode()
    files = {name: base64.b64decode(data) for name, data in configmap["binaryData"].items()}
    python = hub_image_python(ROOT / ".venv-hub", wheel=None)
    for module in ("jhpolicy", "httpx"):
        missing = subprocess.run([str(python), "-c", f"import {module}"], capture_output=True, cwd=folder)
        assert missing.returncode != 0, f"{module} is installed in the hub image's Python"
    config = folder / "config.yaml"
    config.write_text(USER_CONFIG)
    hub = ChartHub(folder, cluster, "jhub-chart-no-image", pod_ips.port, [*stack_files("no-image-build"), config, pins],
                   python, POLICIES, configmaps={"jhpolicy-wheels": files})
    try:
        hub.start()
    except BaseException:
        hub.stop()  # its proxy and OPA sidecar too
        raise
    yield hub
    for user, server in running(hub):
        hub.stop_server(user, server)
    hub.stop()


def impostor_wheel() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as wheel:
        wheel.writestr("jhpolicy/__init__.py", "raise SystemExit('the impostor was imported')\n")
    return buffer.getvalue()


def test_the_configmap_holds_the_wheels_under_the_size_limit(hub):
    wheels = sorted(p.name for p in hub.at("/usr/local/etc/jupyterhub/jhpolicy-wheels").glob("*.whl"))
    assert [w.split("-")[0] for w in wheels] == ["aaa", "anyio", "h11", "httpcore", "httpx", "jhpolicy",
                                                 "jupyterhub_idle_culler"]


def test_only_the_pinned_wheels_are_imported(hub):
    # The impostor is in the mount, first by name: the hub runs jhpolicy's own.
    assert "the impostor was imported" not in hub.log_text()
    assert "Using Spawner: jhpolicy.spawner.PolicyKubeSpawner" in hub.log_text()


def test_jhpolicy_is_imported_from_the_mounted_wheel(hub):
    log = hub.log_text()
    assert "Loading extra config: 00-jhpolicy-wheels" in log
    assert "Using Spawner: jhpolicy.spawner.PolicyKubeSpawner" in log


def test_the_charts_culler_runs_culler_2_from_the_mounted_wheel(hub):
    # The hub image has jupyterhub-idle-culler 1.4.0, without the arbiter hook.
    line = culler_line(hub)
    assert "jupyterhub-idle-culler 2.0.0 (" in line
    assert "/jhpolicy-wheels/jupyterhub_idle_culler-2.0.0-py3-none-any.whl/" in line


def test_the_readme_example_and_a_refusal(hub):
    r = hub.start_server("alice", "", FORUM_BODY)
    assert r.status_code in (201, 202), r.text
    ready(hub, "alice", "")
    assert running(hub)[("alice", "")]["spec"]["containers"][0]["resources"]["limits"]["cpu"] == "2"
    hub.stop_server("alice", "")
    r = hub.start_server("alice", "evil", {"image": "evil/miner:1"})
    assert r.status_code == 403, r.text
