"""End to end on real Kubernetes: a real JupyterHub whose PolicyKubeSpawner
runs KubeSpawner's own _start (reflectors, pod creation, waiting for
Running, deletion) against a real kube-apiserver with etcd, the real
scheduler and controller-manager, and kwok nodes (tests/kube/cluster.py).
No recorder: the assertions read the Pod objects the API server stored.

The one stand-in is the single-user server itself (tests/kube/pod_ips.py):
kwok runs no containers, so something on the pod IP answers JupyterHub's
readiness check.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from jhpolicy.tooling.local_opa import LocalOPA
from jhpolicy.tooling.values import STACKS

from .e2e.hub import Hub
from .helpers.policies import POLICIES, ROOT
from .kube.cluster import BIN, ApiError

NAMESPACE = "jhub-e2e"
SAMPLE = "quay.io/jupyterhub/k8s-singleuser-sample:4.4.0"


@pytest.fixture(scope="module")
def kube_hub(cluster, pod_ips, tmp_path_factory):
    opa = LocalOPA([POLICIES]).start()
    hub = Hub(tmp_path_factory.mktemp("kube-hub"), opa.url, cluster=cluster, namespace=NAMESPACE, singleuser_port=pod_ips.port)
    try:
        yield hub.start()
    finally:
        hub.stop()
        opa.stop()


def user_pods(hub, user: str, server: str = "") -> list[dict]:
    """The Pod objects the API server holds for this server."""
    return [r["pod"] for r in hub.pods() if r["user"] == user and r["server"] == server]


def start_ready(hub, user: str, server: str, body: dict) -> list[dict]:
    """Start a server, wait until it is ready; its pods."""
    r = hub.start_server(user, server, body)
    assert r.status_code in (201, 202), r.text
    assert hub.progress_events(user, server)[-1].get("ready"), f"{user}/{server} did not become ready"
    return user_pods(hub, user, server)


def test_allowed_spawn_stores_exactly_the_decided_pod(cluster, kube_hub):
    (pod,) = start_ready(kube_hub, "alice", "lab", {"image": SAMPLE, "cpu_limit": 8})
    container = pod["spec"]["containers"][0]
    assert container["image"] == SAMPLE
    # As the API server stores it: cpu 8 lowered to 2; memory 1G from the default
    # profile "small"; requests as decided (cpu lowered to the group's 1).
    assert container["resources"] == {
        "limits": {"cpu": "2", "memory": "1073741824"},
        "requests": {"cpu": "1", "memory": "1073741824"},
    }
    assert pod["metadata"]["labels"]["component"] == "singleuser-server"
    assert pod["spec"]["nodeName"].startswith("kwok-") and pod["status"]["phase"] == "Running"
    assert pod["status"]["podIP"].startswith("127.200.0.")
    kube_hub.stop_server("alice", "lab")


def test_gpu_pod_is_accepted_with_request_equal_to_limit(cluster, kube_hub):
    (pod,) = start_ready(kube_hub, "gina", "gpu", {"extra_resource_limits": {"nvidia.com/gpu": 4}})
    resources = pod["spec"]["containers"][0]["resources"]
    assert resources["limits"]["nvidia.com/gpu"] == "1" == resources["requests"]["nvidia.com/gpu"]  # 4 lowered to 1
    node = cluster.request("GET", f"/api/v1/nodes/{pod['spec']['nodeName']}")
    assert int(node["status"]["capacity"].get("nvidia.com/gpu", "0")) >= 1  # a GPU node (other modules add some)
    kube_hub.stop_server("gina", "gpu")


INVALID = {
    "gpu request differs from its limit": (
        {"limits": {"nvidia.com/gpu": "2"}, "requests": {"nvidia.com/gpu": "1"}},
        {"extra_resource_limits": {"nvidia.com/gpu": 2}, "extra_resource_guarantees": {"nvidia.com/gpu": 1}},
    ),
    "fractional gpu": ({"limits": {"nvidia.com/gpu": "500m"}}, {"extra_resource_limits": {"nvidia.com/gpu": "500m"}}),
    "cpu request above its limit": ({"limits": {"cpu": "1"}, "requests": {"cpu": "2"}}, None),
    "cpu as an extended resource": (None, {"extra_resource_limits": {"cpu": 64}}),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_what_the_api_server_refuses_jhpolicy_refuses_first(cluster, kube_hub, case):
    resources, body = INVALID[case]
    if resources is not None:
        pod = {
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "invalid-" + case.replace(" ", "-")},
            "spec": {"containers": [{"name": "c", "image": SAMPLE, "resources": resources}]},
        }
        with pytest.raises(ApiError) as e:
            cluster.request("POST", f"/api/v1/namespaces/{NAMESPACE}/pods", json=pod)
        assert e.value.status == 422, e.value.body  # the real API server: Invalid
    if body is not None:
        before = cluster.pods(NAMESPACE)
        r = kube_hub.start_server("gina", "invalid", body)
        assert r.status_code == 400, r.text
        assert r.json()["message"].startswith("Invalid spawn request:")
        assert cluster.pods(NAMESPACE) == before


def test_a_pod_that_cannot_be_scheduled_is_explained_in_the_progress_stream(cluster, kube_hub):
    # Admins may ask for 4 GPUs; no node has more than 2.
    r = kube_hub.start_server("gina", "big", {"extra_resource_limits": {"nvidia.com/gpu": 4}}, as_="admin")
    assert r.status_code == 202, r.text
    events = kube_hub.progress_events("gina", "big", until=lambda e: "Insufficient nvidia.com/gpu" in e.get("message", "") or e.get("failed") or e.get("ready"))
    last = events[-1]
    assert "Insufficient nvidia.com/gpu" in last["message"], events
    assert not any("ApiException" in e.get("message", "") for e in events)
    (pod,) = user_pods(kube_hub, "gina", "big")
    assert pod["status"]["phase"] == "Pending"
    kube_hub.stop_server("gina", "big")
    assert user_pods(kube_hub, "gina", "big") == []


def test_stopping_a_server_deletes_its_pod(cluster, kube_hub):
    assert len(start_ready(kube_hub, "sam", "s", {})) == 1
    kube_hub.stop_server("sam", "s")
    assert user_pods(kube_hub, "sam", "s") == []


def test_a_pod_deleted_through_the_api_shows_as_a_stopped_server(cluster, kube_hub):
    (pod,) = start_ready(kube_hub, "sam", "gone", {})
    cluster.request("DELETE", f"/api/v1/namespaces/{NAMESPACE}/pods/{pod['metadata']['name']}")
    cluster.wait_for(lambda: kube_hub.server_state("sam", "gone") is None, "the hub to see the server stopped", timeout=60)


# --- the real chart, installed with Helm into the real API server ---

CHART = ROOT / "jhpolicy" / "z2jh" / "jupyterhub-4.4.0.tgz"
VALUES = ROOT / "helm-values"
USER_CONFIG = ROOT / "tests" / "kube" / "user-config.yaml"
OVERRIDES = ROOT / "tests" / "kube" / "test-overrides.yaml"


# Any PEM public key will do: nothing verifies a bundle in this test (kwok runs no containers).
PUBLIC_KEY = """-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE8Zt0KYkt0o8HxkKSpBRyoMPxEW3D
u0FtLPkLfLTCHtkt8TBBr5kGzL0PuoVWF6rVqgq8rVxD/Yhsq3lYQq9Vmg==
-----END PUBLIC KEY-----
"""


def helm(cluster, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    home = cluster.dir / "helm-home"
    env = {**os.environ, "HOME": str(home), "HELM_CACHE_HOME": str(home / "cache"), "HELM_CONFIG_HOME": str(home / "config"),
           "HELM_DATA_HOME": str(home / "data"), "KUBECONFIG": str(cluster.kubeconfig)}
    result = subprocess.run([str(BIN / "helm"), *args], capture_output=True, text=True, env=env, timeout=300)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def combined_values(tmp_path: Path, stack: str) -> Path:
    """The user's config.yaml with jhpolicy's values, as the docs say: `jhpolicy values`."""
    files = [USER_CONFIG, *(VALUES / n for n in STACKS[stack]), OVERRIDES]
    result = subprocess.run([sys.executable, "-m", "jhpolicy.cli", "values", *(a for f in files for a in ("-f", str(f)))],
                            capture_output=True, text=True, check=True)
    path = tmp_path / f"values-{stack}.yaml"
    path.write_text(result.stdout)
    return path


def apply_manifest(cluster, namespace: str, manifest: dict) -> None:
    kind = manifest["kind"]
    plural = {"ConfigMap": "configmaps", "Secret": "secrets"}[kind]
    cluster.request("POST", f"/api/v1/namespaces/{namespace}/{plural}", json=manifest)


def configmap(policies: Path, name: str) -> dict:
    result = subprocess.run([sys.executable, "-m", "jhpolicy.cli", "configmap", "--policies", str(policies), "--name", name],
                            capture_output=True, text=True, check=True)
    return yaml.safe_load(result.stdout)


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_helm_lint_and_template(cluster, stack, tmp_path):
    values = combined_values(tmp_path, stack)
    helm(cluster, "lint", "--strict", str(CHART), "-f", str(values), "--kube-version", "v1.34.4")
    rendered = list(yaml.safe_load_all(helm(cluster, "template", "jhub", str(CHART), "-f", str(values), "--kube-version", "v1.34.4").stdout))
    (hub,) = [d for d in rendered if d and d["kind"] == "Deployment" and d["metadata"]["name"] == "hub"]
    assert [c["name"] for c in hub["spec"]["template"]["spec"]["containers"]] == ["hub", "log-shipper", "opa"]


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_chart_installs_and_the_hub_pod_runs_with_its_sidecar(cluster, stack, tmp_path):
    namespace = f"jhub-{stack}"
    cluster.ensure_namespace(namespace)
    apply_manifest(cluster, namespace, configmap(POLICIES, "jhpolicy-policies"))
    if stack == "token-auth":
        apply_manifest(cluster, namespace, configmap(VALUES / "opa-authz", "jhpolicy-opa-authz"))
        apply_manifest(cluster, namespace, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "jhpolicy-opa-token"},
                                            "stringData": {"token": "t-" + "0123456789abcdef" * 2}})
    if stack == "bundles":
        public_key = tmp_path / "bundle.pub"
        public_key.write_text(PUBLIC_KEY)
        result = subprocess.run(
            [sys.executable, "-m", "jhpolicy.cli", "opa-config", "--server-url", "https://bundles.example.org",
             "--keyid", "jhpolicy-2026", "--public-key", str(public_key), "--hub", namespace],
            capture_output=True, text=True, check=True,
        )
        apply_manifest(cluster, namespace, yaml.safe_load(result.stdout))
    values_path = combined_values(tmp_path, stack)
    values = yaml.safe_load(values_path.read_text())
    # Every object of the chart goes through the API server's validation and admission.
    helm(cluster, "install", "jhub", str(CHART), "-n", namespace, "-f", str(values_path))
    try:
        def hub_pod():
            pods = cluster.pods(namespace, "component=hub")
            return pods[0] if pods and pods[0]["status"].get("phase") == "Running" else None

        pod = cluster.wait_for(hub_pod, "the hub pod to be scheduled onto a kwok node and Running")
        spec = pod["spec"]
        assert spec["nodeName"].startswith("kwok-")
        containers = {c["name"]: c for c in spec["containers"]}
        assert list(containers) == ["hub", "log-shipper", "opa"]
        opa = containers["opa"]
        expected = next(c for c in values["hub"]["extraContainers"] if c["name"] == "opa")
        assert opa["args"] == expected["args"] and opa["image"] == "openpolicyagent/opa:1.22.3-static"
        ready_path = "/health?bundles=true" if stack == "bundles" else "/health"
        assert opa["readinessProbe"]["httpGet"] == {"path": ready_path, "port": "opa-diag", "scheme": "HTTP"}
        assert opa["livenessProbe"]["httpGet"]["port"] == "opa-diag"
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert volumes["jhpolicy-policies"]["configMap"]["name"] == "jhpolicy-policies"
        assert volumes["site-templates"]["configMap"]["name"] == "site-templates"  # the user's, kept
        if stack == "bundles":
            assert volumes["jhpolicy-opa-config"]["configMap"]["name"] == "jhpolicy-opa-config"
            assert "emptyDir" in volumes["jhpolicy-opa-persisted"]
            assert "--config-file=/config/opa-config.yaml" in opa["args"]
            config = cluster.request("GET", f"/api/v1/namespaces/{namespace}/configmaps/jhpolicy-opa-config")
            assert yaml.safe_load(config["data"]["opa-config.yaml"])["labels"] == {"hub": namespace}
        else:
            mount = {"name": "jhpolicy-policies", "mountPath": "/policies", "readOnly": True}
            assert mount.items() <= opa["volumeMounts"][0].items()
        hub_env = {e["name"]: e for e in containers["hub"].get("env", [])}
        assert hub_env["SITE_NAME"]["value"] == "example-university"
        assert any(m["name"] == "site-templates" for m in containers["hub"]["volumeMounts"])
        if stack == "token-auth":
            assert volumes["jhpolicy-opa-authz"]["configMap"]["name"] == "jhpolicy-opa-authz"
            assert hub_env["JHPOLICY_OPA_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == "jhpolicy-opa-token"
            assert "--authentication=token" in opa["args"]
        # The extraConfig snippet the hub would run is the one in the values.
        config = cluster.request("GET", f"/api/v1/namespaces/{namespace}/secrets/hub")
        assert config["data"]  # the chart's hub Secret (values.yaml) was admitted
    finally:
        helm(cluster, "uninstall", "jhub", "-n", namespace)
