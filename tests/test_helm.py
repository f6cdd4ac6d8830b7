"""helm-values/, checked offline (no cluster, no helm binary here).

- merged over the z2jh 4.4.0 defaults the way Helm merges, then validated
  against the chart's values.schema.json;
- the sidecar, its volumes and probes, and the policies' ConfigMap, checked
  by the real API server (tests/kube, Kubernetes 1.34): a server-side dry
  run with strict field validation, which refuses a field or a type the
  API does not know;
- hub.extraConfig executed the way the chart executes it;
- the sidecar's arguments run for real on a folder laid out like a mounted
  ConfigMap, including a kubelet-style update.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
import jsonschema
import pytest
import yaml
from traitlets.config import Config

from jhpolicy.tooling.chart_config import chart_file
from jhpolicy.tooling.configmap import policy_files
from jhpolicy.tooling.opa_binary import ensure_opa
from jhpolicy.tooling.values import STACKS

from .helpers.helm import AUTHZ, INPUT, VALUES, helm_merge, merged_values, sidecar
from .helpers.policies import POLICIES, ROOT
from .helpers.polling import answers, wait_for
from .helpers.sidecar import ConfigMapMount, start_sidecar
from .kube.cluster import ApiError

NAMESPACE = "helm-values"


def dry_run_create(cluster, document: dict) -> dict:
    """What the API server says of creating `document`, created nowhere:
    the server's own schema, defaulting and admission, and with
    fieldValidation=Strict a refusal for any field it does not know (the
    default only warns). kubernetes-validate checked this offline before;
    importing it made every `import kubespawner` 1.1 s slower, as
    kubernetes_asyncio imports it whenever it is installed."""
    cluster.ensure_namespace(NAMESPACE)
    plural = {"Pod": "pods", "ConfigMap": "configmaps"}[document["kind"]]
    return cluster.request("POST", f"/api/v1/namespaces/{NAMESPACE}/{plural}", json=document,
                           params={"dryRun": "All", "fieldValidation": "Strict"})


def test_every_values_file_is_in_a_checked_stack():
    assert {p.name for p in VALUES.glob("*.yaml")} == {n for names in STACKS.values() for n in names}


def test_helm_merge_follows_helm_rules():
    base = {"a": {"b": 1, "c": [1, 2]}, "d": 1}
    assert helm_merge(base, {"a": {"c": [3]}, "d": None}) == {"a": {"b": 1, "c": [3]}}


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_values_validate_against_chart_schema(stack):
    schema = json.loads(chart_file("values.schema.json"))
    jsonschema.Draft7Validator(schema).validate(merged_values(stack))


def test_chart_schema_check_can_fail():
    schema = json.loads(chart_file("values.schema.json"))
    values = merged_values("plain")
    values["hub"]["extraConfigs"] = {"typo": "x"}
    with pytest.raises(jsonschema.ValidationError, match="extraConfigs"):
        jsonschema.Draft7Validator(schema).validate(values)


def hub_pod(values: dict) -> dict:
    """The hub pod as the chart lays it out, with what jhpolicy's values add."""
    hub = values["hub"]
    env = [{"name": k, **v} if isinstance(v, dict) else {"name": k, "value": v} for k, v in hub.get("extraEnv", {}).items()]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "hub"},
        "spec": {
            "securityContext": hub["podSecurityContext"],
            "containers": [
                {"name": "hub", "image": f"{hub['image']['name']}:{hub['image']['tag']}", "env": env},
                *hub["extraContainers"],
            ],
            "volumes": hub["extraVolumes"],
        },
    }


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_the_api_server_accepts_the_sidecar(cluster, stack):
    pod = hub_pod(merged_values(stack))
    assert dry_run_create(cluster, pod)["metadata"]["name"] == "hub"
    opa = sidecar(merged_values(stack))
    assert opa["image"] == "openpolicyagent/opa:1.22.3-static"
    security = opa["securityContext"]
    assert security["runAsNonRoot"] and security["readOnlyRootFilesystem"]
    assert security["allowPrivilegeEscalation"] is False and security["capabilities"]["drop"] == ["ALL"]
    mounted = {m["name"] for m in opa["volumeMounts"]}
    assert mounted <= {v["name"] for v in pod["spec"]["volumes"]}


@pytest.mark.parametrize("mistake", ["a type", "a field"])
def test_the_api_servers_check_can_fail(cluster, mistake):
    pod = hub_pod(merged_values("plain"))
    probe = pod["spec"]["containers"][1]["livenessProbe"]
    if mistake == "a type":
        probe["httpGet"]["port"] = {"name": "opa-diag"}
    else:
        probe["httpGet"]["paht"] = "/health"
    with pytest.raises(ApiError) as refused:
        dry_run_create(cluster, pod)
    assert refused.value.status in (400, 422)
    assert ("paht" if mistake == "a field" else "port") in refused.value.body


@pytest.mark.parametrize("folder, name", [(POLICIES, "jhpolicy-policies"), (AUTHZ, "jhpolicy-opa-authz")])
def test_configmap_manifest(cluster, folder, name):
    result = subprocess.run(
        [sys.executable, "-m", "jhpolicy.cli", "configmap", "--policies", str(folder), "--name", name],
        capture_output=True, text=True, check=True,
    )
    document = yaml.safe_load(result.stdout)
    assert dry_run_create(cluster, document)["metadata"]["name"] == name
    policy_files = [p for p in folder.iterdir() if p.suffix in (".rego", ".json") and not p.stem.endswith("_test")]
    assert document["data"] == {p.name: p.read_text() for p in policy_files}
    assert not any(key.endswith("_test.rego") for key in document["data"])


# --- hub.extraConfig, run the way the chart runs it ---


def run_extra_config(values: dict) -> Config:
    c = Config()
    c.JupyterHub.spawner_class = "kubespawner.KubeSpawner"  # what the chart sets first
    snippets = values["hub"]["extraConfig"]
    for key in sorted(snippets):
        scope = {"c": c, "get_config": lambda: c, "get_secret_value": lambda key, default=None: default, "os": os, "sys": sys}
        exec(compile(snippets[key], f"hub.extraConfig.{key}", "exec"), scope)
    return c


def test_extra_config_selects_policy_spawner(opa):
    import asyncio

    from jhpolicy.spawner import PolicyKubeSpawner
    from jhpolicy.tooling.offline import OfflineUser, make_spawner

    c = run_extra_config(merged_values("plain"))
    assert c.JupyterHub.spawner_class == "jhpolicy.PolicyKubeSpawner"

    async def options():
        spawner = make_spawner(c, OfflineUser("alice"), {})
        assert isinstance(spawner, PolicyKubeSpawner)
        return spawner.opa_url, spawner.opa_decision_path, spawner.opa_timeout, spawner.policy_failure_mode

    assert asyncio.run(options()) == ("http://127.0.0.1:8181", "jupyterhub/spawn/decision", 5.0, "deny")


# --- the sidecar's arguments, for real ---


@pytest.fixture
def run_sidecar(tmp_path):
    processes = []

    def start(stack: str, env: dict | None = None):
        opa = sidecar(merged_values(stack))
        mounts = {}
        volume_for = {m["mountPath"]: m["name"] for m in opa["volumeMounts"]}
        sources = {"jhpolicy-policies": POLICIES, "jhpolicy-opa-authz": AUTHZ}
        for path, volume in volume_for.items():
            mounts[path] = ConfigMapMount(tmp_path / volume, policy_files(sources[volume]))
        start.log = tmp_path / f"opa-{stack}.log"
        started = start_sidecar(opa, {p: m.root for p, m in mounts.items()}, start.log, env=env)
        processes.append(started.process)
        return started.url, f"{started.diag}/health", mounts

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=10)


def decide(url: str, headers=None) -> httpx.Response:
    return httpx.post(f"{url}/v1/data/jupyterhub/spawn/decision", json={"input": INPUT}, headers=headers, trust_env=False)


def test_sidecar_serves_decisions_and_reloads_configmap_updates(run_sidecar):
    url, _, mounts = run_sidecar("plain")
    first = decide(url).json()["result"]
    assert first["overrides"] == {"cpu_limit": 2}

    # An admin edits data.json; the kubelet swaps ..data. No restart.
    files = policy_files(POLICIES)
    data = json.loads(files["data.json"])
    data["jhpolicy"]["groups"]["students"]["max"]["cpu_limit"] = 3
    files["data.json"] = json.dumps(data)
    mounts["/policies"].update(files)
    wait_for(lambda: decide(url).json()["result"]["overrides"] == {"cpu_limit": 3}, what="the new decision")
    assert decide(url).json()["result"]["messages"] == ["cpu_limit 8 lowered to 3: the most for group students"]

    # A policy edit that does not compile: OPA reports it and keeps the last good one.
    files["spawn.rego"] += "\nthis is not rego\n"
    mounts["/policies"].update(files)

    def reload_failed():
        events = [json.loads(line) for line in run_sidecar.log.read_text().split("\n") if "file watch" in line]
        return any(e.get("err") for e in events)

    wait_for(reload_failed, what="OPA to report the failed reload")
    assert decide(url).json()["result"]["overrides"] == {"cpu_limit": 3}


def test_sidecar_with_token_auth_admits_only_the_hub(run_sidecar):
    token = "e2e-" + os.urandom(16).hex()
    url, diag, _ = run_sidecar("token-auth", env={"JHPOLICY_OPA_TOKEN": token})
    assert decide(url).status_code == 401
    assert decide(url, headers={"Authorization": "Bearer wrong-token-guess"}).status_code == 401
    r = decide(url, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.json()["result"]["overrides"] == {"cpu_limit": 2}
    # Policies cannot be changed without the token either.
    assert httpx.put(f"{url}/v1/policies/evil", content=b"package evil", trust_env=False).status_code == 401
    # The kubelet's probes carry no token: the diagnostic address still answers.
    assert answers(diag)


def test_token_auth_values_give_hub_and_sidecar_the_same_secret():
    values = merged_values("token-auth")
    hub_ref = values["hub"]["extraEnv"]["JHPOLICY_OPA_TOKEN"]["valueFrom"]["secretKeyRef"]
    (sidecar_env,) = [e for e in sidecar(values)["env"] if e["name"] == "JHPOLICY_OPA_TOKEN"]
    assert sidecar_env["valueFrom"]["secretKeyRef"] == hub_ref


NETNS_PROBE = """
import json, subprocess, sys, time, urllib.request
command = json.loads(sys.argv[1])
opa = subprocess.Popen(command, stdout=open(sys.argv[2], "wb"), stderr=subprocess.STDOUT)
def get(url):
    try:
        return urllib.request.urlopen(url, timeout=2).status
    except OSError:
        return None
deadline = time.monotonic() + 30
while time.monotonic() < deadline and opa.poll() is None:
    if get("http://127.0.0.1:8282/health") == 200 and get("http://[::1]:8282/health") == 200:
        break
    time.sleep(0.1)
result = {
    "exited": opa.poll(),
    "health_ipv4": get("http://127.0.0.1:8282/health"),
    "health_ipv6": get("http://[::1]:8282/health"),
    "decisions_ipv4": get("http://127.0.0.1:8181/health"),
    "decisions_ipv6": get("http://[::1]:8181/health"),
}
opa.terminate()
print(json.dumps(result))
"""


@pytest.mark.parametrize("stack", ["plain"])
def test_diagnostic_address_serves_both_families(stack, tmp_path):
    """The sidecar's exact args, in a network namespace of this test's own
    (only lo, with 127.0.0.1 and ::1, as in a dual-stack pod): /health
    answers on IPv4 and IPv6; decisions only on 127.0.0.1."""
    opa = sidecar(merged_values(stack))
    policies = ConfigMapMount(tmp_path / "policies", policy_files(POLICIES))
    command = [ensure_opa(), *(str(policies.root) if a == "/policies" else a for a in opa["args"])]
    assert "--diagnostic-addr=:8282" in command and "--addr=127.0.0.1:8181" in command
    result = subprocess.run(
        ["unshare", "--net", "--", "sh", "-c", 'ip link set lo up && exec "$0" -c "$1" "$2" "$3"',
         sys.executable, NETNS_PROBE, json.dumps(command), str(tmp_path / "opa.log")],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout)
    assert probe == {"exited": None, "health_ipv4": 200, "health_ipv6": 200, "decisions_ipv4": 200, "decisions_ipv6": None}, (
        probe, (tmp_path / "opa.log").read_text()[-2000:])


# --- a user's own config.yaml: lists joined, not replaced ---

USER_CONFIG = ROOT / "tests" / "kube" / "user-config.yaml"


def combined_values(*names: str) -> dict:
    """As `jhpolicy values --stack` combines them: the shipped files, then the user's."""
    from jhpolicy.tooling.values import combine

    return combine([*((VALUES / n).read_text() for n in names), USER_CONFIG.read_text()])


def names(items) -> list[str]:
    return [i["name"] for i in items]


def test_helm_alone_would_drop_the_users_lists():
    user = yaml.safe_load(USER_CONFIG.read_text())
    merged = helm_merge(user, yaml.safe_load((VALUES / "jhpolicy.yaml").read_text()))
    assert names(merged["hub"]["extraContainers"]) == ["opa"]  # log-shipper gone
    assert names(merged["hub"]["extraVolumes"]) == ["jhpolicy-policies"]  # site-templates gone, its mount stays


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_jhpolicy_values_keeps_the_users_lists(stack):
    values = combined_values(*STACKS[stack])
    hub = values["hub"]
    assert names(hub["extraContainers"]) == ["opa", "log-shipper"]
    wheels = ["jhpolicy-wheels"] if stack.startswith("no-image-build") else []
    assert names(hub["extraVolumeMounts"]) == [*wheels, "site-templates"]
    assert "jhpolicy-policies" in names(hub["extraVolumes"]) and names(hub["extraVolumes"])[-1] == "site-templates"
    assert set(wheels) <= set(names(hub["extraVolumes"]))
    if "token-auth" in stack:
        # The later file's sidecar replaces the earlier one of the same name; env maps join the user's list.
        assert "--authentication=token" in hub["extraContainers"][0]["args"]
        assert names(hub["extraEnv"]) == ["JHPOLICY_OPA_TOKEN", "SITE_NAME"]
        assert hub["extraEnv"][0]["valueFrom"]["secretKeyRef"]["name"] == "jhpolicy-opa-token"
    jsonschema.Draft7Validator(json.loads(chart_file("values.schema.json"))).validate(
        helm_merge(yaml.safe_load(chart_file("values.yaml")), values)
    )


def test_jhpolicy_values_command(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "jhpolicy.cli", "values", "-f", str(USER_CONFIG), "-f", str(VALUES / "jhpolicy.yaml")],
        capture_output=True, text=True, check=True,
    )
    from jhpolicy.tooling.values import combine

    # -f files alone: in the order given.
    assert yaml.safe_load(result.stdout) == combine([USER_CONFIG.read_text(), (VALUES / "jhpolicy.yaml").read_text()])
    # --stack: the shipped files before the user's, also from an installed package (tests/test_wheel.py).
    for stack, files in STACKS.items():
        result = subprocess.run([sys.executable, "-m", "jhpolicy.cli", "values", "--stack", stack, "-f", str(USER_CONFIG)],
                                capture_output=True, text=True, check=True)
        assert yaml.safe_load(result.stdout) == combine([*((VALUES / n).read_text() for n in files), USER_CONFIG.read_text()])


def test_the_admins_values_win_over_every_stack(tmp_path):
    # Before (#29 item 2): the stack came last and replaced the admin's hub.image.
    own = tmp_path / "config.yaml"
    own.write_text("hub:\n  image: {name: registry.example.edu/hub, tag: '1.2'}\n"
                   "  extraConfig: {00-mine: 'c.Spawner.start_timeout = 600'}\n"
                   "  extraVolumes: [{name: mine, emptyDir: {}}]\n")
    for stack in STACKS:
        result = subprocess.run([sys.executable, "-m", "jhpolicy.cli", "values", "--stack", stack, "-f", str(own), "--explain"],
                                capture_output=True, text=True, check=True)
        values = yaml.safe_load(result.stdout)["hub"]
        assert values["image"] == {"name": "registry.example.edu/hub", "tag": "1.2"}, stack
        assert "00-mine" in values["extraConfig"] and "jhpolicy" in values["extraConfig"]
        assert "mine" in names(values["extraVolumes"]) and "jhpolicy-policies" in names(values["extraVolumes"])
        assert f"hub.image.name: {own}" in result.stderr.splitlines()
        assert "placeholder" not in result.stderr
    # Without an image of their own, the placeholder stays and they are told.
    result = subprocess.run([sys.executable, "-m", "jhpolicy.cli", "values", "--stack", "plain", "-f", str(USER_CONFIG)],
                            capture_output=True, text=True, check=True)
    assert "note: hub.image.name is the placeholder registry.example.org/jupyterhub/k8s-hub-jhpolicy" in result.stderr
