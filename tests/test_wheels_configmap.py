"""The no-image-build route's ConfigMap of wheels (issue #29 item 3):
`jhpolicy wheels-configmap` refuses what is not a wheel or a ConfigMap key,
pins each wheel by sha256 in the values it writes, and the hub's import
code (run here as the chart runs extraConfig) imports exactly those. The
ConfigMap goes to the real API server by server-side apply, the way the docs
give (`kubectl apply --server-side`), and client-side apply's annotation is
shown to be too large for it.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import subprocess
import sys
import zipfile

import pytest
import yaml

from jhpolicy.tooling.configmap import MAX_CONFIGMAP_BYTES, WHEELS_CONFIG_KEY, wheels_manifest

from .e2e.chart_hub import build_wheel
from .kube.cluster import ApiError

# The `jhpolicy` command runs where the admin installs it (pip's newest JupyterHub
# and KubeSpawner), not in the hub: one version set (conftest.py, ONCE).
pytestmark = pytest.mark.once

DEPENDENCIES = ["httpx==0.28.1", "httpcore==1.0.9", "h11==0.16.0", "anyio==4.16.0"]
ANNOTATION_LIMIT = 262_144  # what the API server allows all of an object's annotations


def wheel_bytes(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as wheel:
        for name, text in files.items():
            wheel.writestr(name, text)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def wheels(tmp_path_factory):
    folder = tmp_path_factory.mktemp("wheels")
    build_wheel(folder)
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                    "-d", str(folder), *DEPENDENCIES], check=True, capture_output=True, timeout=300)
    return sorted(folder.glob("*.whl"))


def written(path, data: bytes):
    path.write_bytes(data)
    return path


def cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "jhpolicy.cli", "wheels-configmap", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=120)


def test_it_says_the_size_against_the_limit_and_writes_the_pins(wheels, tmp_path):
    done = cli(*wheels, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    manifest = yaml.safe_load(done.stdout)
    size = sum(len(base64.b64decode(v)) for v in manifest["binaryData"].values())
    assert f"{len(wheels)} wheels, {size:,} bytes of the {MAX_CONFIGMAP_BYTES:,} a ConfigMap holds" in done.stderr
    assert "kubectl apply --server-side" in done.stderr
    values = yaml.safe_load((tmp_path / "jhpolicy-wheels-values.yaml").read_text())
    snippet = values["hub"]["extraConfig"][WHEELS_CONFIG_KEY]
    for wheel in wheels:
        assert f"'{wheel.name}': '{hashlib.sha256(wheel.read_bytes()).hexdigest()}'" in snippet


@pytest.mark.parametrize("make, error", [
    (lambda d: d / "missing-0-py3-none-any.whl", "no such file"),
    (lambda d: written(d / "x-0-py3-none-any.whl", b"not a zip"), "not a wheel (not a zip archive)"),
    (lambda d: written(d / "x-0-cp311-cp311-linux_x86_64.whl", wheel_bytes({})), "not a pure-Python wheel"),
])
def test_what_is_not_a_pure_python_wheel_is_refused(wheels, tmp_path, make, error):
    done = cli(make(tmp_path), *wheels, cwd=tmp_path)
    assert done.returncode == 2 and error in done.stderr, done.stderr
    assert done.stdout == "" and not (tmp_path / "jhpolicy-wheels-values.yaml").exists()


def test_names_are_checked(wheels, tmp_path):
    twice = tmp_path / "again"
    twice.mkdir()
    (twice / wheels[0].name).write_bytes(wheels[0].read_bytes())
    done = cli(*wheels, twice / wheels[0].name, cwd=tmp_path)
    assert done.returncode == 2 and f"a second wheel named {wheels[0].name}" in done.stderr, done.stderr
    done = cli(*wheels, "--name", "Bad Name!", cwd=tmp_path)
    assert done.returncode == 2 and "--name 'Bad Name!': not a Kubernetes object name" in done.stderr
    local = tmp_path / "jhpolicy-0.1.0+local-py3-none-any.whl"
    local.write_bytes(next(w for w in wheels if w.name.startswith("jhpolicy")).read_bytes())
    manifest, _ = wheels_manifest([local, *(w for w in wheels if not w.name.startswith("jhpolicy"))], "jhpolicy-wheels")
    assert "jhpolicy-0.1.0_local-py3-none-any.whl" in manifest["binaryData"]  # a valid ConfigMap key


def run_snippet(snippet: str, folder) -> subprocess.CompletedProcess:
    """The snippet as the chart's jupyterhub_config.py runs it: __file__ beside the mount."""
    code = f"__file__ = {str(folder / 'jupyterhub_config.py')!r}\n{snippet}\nimport jhpolicy; print(jhpolicy.__file__)\n"
    return subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, cwd=folder, timeout=60)


def test_the_hub_imports_exactly_the_pinned_wheels(wheels, tmp_path):
    _, values = wheels_manifest(wheels, "jhpolicy-wheels")
    snippet = values["hub"]["extraConfig"][WHEELS_CONFIG_KEY]
    mount = tmp_path / "jhpolicy-wheels"
    mount.mkdir()
    for wheel in wheels:
        (mount / wheel.name).write_bytes(wheel.read_bytes())
    # A wheel added to the ConfigMap later, sorted first, with its own jhpolicy: never imported.
    (mount / "aaa-0-py3-none-any.whl").write_bytes(wheel_bytes({"jhpolicy/__init__.py": "raise SystemExit('impostor')\n"}))
    ran = run_snippet(snippet, tmp_path)
    assert ran.returncode == 0, ran.stderr
    jhpolicy_wheel = next(w.name for w in wheels if w.name.startswith("jhpolicy"))
    assert ran.stdout.strip() == str(mount / jhpolicy_wheel / "jhpolicy" / "__init__.py")
    # A pinned wheel changed in the ConfigMap: the hub does not start, and says why.
    (mount / jhpolicy_wheel).write_bytes(wheel_bytes({"jhpolicy/__init__.py": "x = 1\n"}))
    ran = run_snippet(snippet, tmp_path)
    assert ran.returncode == 1 and f"jhpolicy: wheel {mount / jhpolicy_wheel} has sha256 " in ran.stderr, ran.stderr
    (mount / jhpolicy_wheel).unlink()
    ran = run_snippet(snippet, tmp_path)
    assert ran.returncode == 1 and "cannot be read" in ran.stderr and "not starting" in ran.stderr


def test_server_side_apply_takes_it_and_client_side_apply_could_not(wheels, cluster):
    namespace = "jhub-wheels"
    cluster.ensure_namespace(namespace)
    manifest, _ = wheels_manifest(wheels, "jhpolicy-wheels", namespace)
    # What `kubectl apply --server-side` sends: an apply patch, no annotation.
    applied = cluster.request("PATCH", f"/api/v1/namespaces/{namespace}/configmaps/jhpolicy-wheels",
                              params={"fieldManager": "kubectl", "force": "true"}, content=json.dumps(manifest),
                              headers={"Content-Type": "application/apply-patch+yaml"})
    assert set(applied["binaryData"]) == set(manifest["binaryData"])
    assert "kubectl.kubernetes.io/last-applied-configuration" not in (applied["metadata"].get("annotations") or {})
    # What client-side `kubectl apply` would create: the whole object again in an annotation.
    annotated = json.loads(json.dumps(manifest))
    annotated["metadata"]["name"] = "jhpolicy-wheels-client-side"
    annotated["metadata"]["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration": json.dumps(manifest)}
    assert len(json.dumps(manifest)) > ANNOTATION_LIMIT
    with pytest.raises(ApiError) as refused:
        cluster.request("POST", f"/api/v1/namespaces/{namespace}/configmaps", json=annotated)
    assert "may not be more than 262144 bytes" in str(refused.value)


@pytest.mark.opa  # the dry run starts OPA
def test_the_dry_run_of_the_no_image_route_says_what_only_the_pod_runs(wheels, tmp_path):
    """`jhpolicy check --values` of install-z2jh.md route B: the pinned import
    needs the pod's mount, so it is left out with a note; the stack without
    the pins stops the dry run as it stops the hub, with the stack's own words."""
    assert cli(*wheels, cwd=tmp_path).returncode == 0

    def check(*files):
        values = subprocess.run([sys.executable, "-m", "jhpolicy.cli", "values", "--stack", "no-image-build",
                                 *(a for f in files for a in ("-f", f))], capture_output=True, text=True, cwd=tmp_path, check=True)
        (tmp_path / "combined.yaml").write_text(values.stdout)
        return subprocess.run([sys.executable, "-m", "jhpolicy.cli", "check", "--values", "combined.yaml", "--user", "alice",
                               "--group", "students"], capture_output=True, text=True, cwd=tmp_path, timeout=120)

    pinned = check("jhpolicy-wheels-values.yaml")
    assert pinned.returncode == 0, pinned.stderr
    assert f"note: hub.extraConfig {WHEELS_CONFIG_KEY} not run: it imports jhpolicy and httpx from the wheels" in pinned.stdout
    unpinned = check()
    assert unpinned.returncode == 2 and unpinned.stderr == (
        "jhpolicy check: --values: the chart's config stopped: jhpolicy: no wheel list: add the values "
        "`jhpolicy wheels-configmap` wrote (jhpolicy-wheels-values.yaml) after the no-image-build stack\n")
