# The end-to-end hub. Ports, paths and tokens come from the harness (hub.py).
import os

c = get_config()  # noqa: F821

env = os.environ
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = int(env["E2E_HUB_PORT"])
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(env["E2E_HUB_API_PORT"])
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{env['E2E_PROXY_API_PORT']}"
c.ConfigurableHTTPProxy.command = [env["E2E_CHP"]]
c.JupyterHub.db_url = f"sqlite:///{env['E2E_DIR']}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = f"{env['E2E_DIR']}/cookie_secret"
c.JupyterHub.pid_file = f"{env['E2E_DIR']}/jupyterhub.pid"
c.JupyterHub.log_level = "INFO"
c.JupyterHub.allow_named_servers = True
# Bursts must meet the policy, not JupyterHub's 429 for >100 pending spawns.
c.JupyterHub.concurrent_spawn_limit = 0
c.JupyterHub.authenticate_prometheus = False
# As in z2jh: servers keep running while the hub restarts.
c.JupyterHub.cleanup_servers = not env.get("E2E_KEEP_SERVERS")

c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allow_all = True
c.Authenticator.admin_users = {"admin"}
c.JupyterHub.load_groups = {
    "students": {"users": ["alice", "sam"]},
    "gpu-users": {"users": ["gina"]},
}

c.JupyterHub.services = [
    {"name": "harness", "api_token": env["E2E_HARNESS_TOKEN"]},
    {"name": "course-orchestrator", "api_token": env["E2E_ORCHESTRATOR_TOKEN"]},
    {"name": "allowance-reader", "api_token": env["E2E_READER_TOKEN"]},
]
c.JupyterHub.load_roles = [
    {"name": "harness", "scopes": ["admin:users", "admin:servers", "admin:groups", "tokens", "read:metrics"], "services": ["harness"]},
    # An orchestrator that starts servers for users.
    {"name": "orchestrator", "scopes": ["servers", "read:users"], "services": ["course-orchestrator"]},
    # Reads any user's allowance view (GET /hub/api/jhpolicy/allowance/users/{name}) and nothing else.
    {"name": "allowance-reader", "scopes": ["custom:jhpolicy:allowance:read"], "services": ["allowance-reader"]},
]

if env.get("E2E_CULL_TIMEOUT"):
    # The culler service as Zero to JupyterHub 4.4.0's jupyterhub_config.py
    # defines it from cull.* (its interpreter: this venv's), culling every
    # second, then made jhpolicy's as the values stacks do (jhpolicy.culler).
    import sys

    import jhpolicy.culler
    from tests.helpers.culler import z2jh_culler

    service, role = z2jh_culler(sys.executable, f"http://127.0.0.1:{env['E2E_HUB_API_PORT']}/hub/api",
                                timeout=int(env["E2E_CULL_TIMEOUT"]), every=1)
    c.JupyterHub.services.append(service)
    c.JupyterHub.load_roles.append(role)

    jhpolicy.culler.configure(c)

import jhpolicy.api  # noqa: E402

jhpolicy.api.configure(c)

if env.get("E2E_NAMESPACE"):
    # A real API server (tests/kube/cluster.py, KUBECONFIG from the harness):
    # KubeSpawner's own _start creates, watches and deletes real pods.
    c.KubeSpawner.namespace = env["E2E_NAMESPACE"]
    c.KubeSpawner.port = int(env["E2E_SINGLEUSER_PORT"])  # where tests/kube/pod_ips.py answers
    c.KubeSpawner.start_timeout = int(env.get("E2E_START_TIMEOUT", "60"))
    c.KubeSpawner.delete_grace_period = 0
    # Notice a pod deleted outside the hub within seconds, not 30 s.
    c.Spawner.poll_interval = 2
else:
    # No cluster: a throwaway kube config that nothing connects to (the
    # recorder replaces every Kubernetes API call, see recording.py).
    from jhpolicy.tooling.offline import ensure_kube_config

    ensure_kube_config()

c.JupyterHub.spawner_class = env.get("E2E_SPAWNER", "tests.e2e.recording.RecordingPolicyKubeSpawner")
c.PolicyKubeSpawner.opa_url = env["E2E_OPA_URL"]
c.PolicyKubeSpawner.opa_timeout = float(env.get("E2E_OPA_TIMEOUT", "5.0"))
if env.get("E2E_HUB_NAME"):
    c.PolicyKubeSpawner.policy_hub_name = env["E2E_HUB_NAME"]
if "E2E_OPA_SHADOW_PATH" in env:
    c.PolicyKubeSpawner.opa_shadow_decision_path = env["E2E_OPA_SHADOW_PATH"]
if "E2E_POLICY_QUOTAS" in env:
    c.PolicyKubeSpawner.policy_quotas = env["E2E_POLICY_QUOTAS"] == "1"
if "E2E_CONSECUTIVE_FAILURE_LIMIT" in env:
    # As the z2jh chart sets it (hub.consecutiveFailureLimit: 5).
    c.Spawner.consecutive_failure_limit = int(env["E2E_CONSECUTIVE_FAILURE_LIMIT"])


def pod_hook(spawner, pod):
    # A genuine spawn error on demand (admin code failing), not a policy refusal.
    if spawner.name == "broken" and "E2E_CONSECUTIVE_FAILURE_LIMIT" in env:
        raise RuntimeError("modify_pod_hook failed for a server named broken")
    # A pod no node can take: its spawn stays inside start() (Pending).
    if spawner.name == env.get("E2E_UNSCHEDULABLE_SERVER"):
        pod.spec.node_selector = {"jhpolicy.test/no-such-node": "true"}
    return pod


c.KubeSpawner.modify_pod_hook = pod_hook
if "E2E_VIEW_CACHE_SECONDS" in env:
    c.PolicyKubeSpawner.policy_view_cache_seconds = float(env["E2E_VIEW_CACHE_SECONDS"])
if "E2E_OPA_MAX_CONNECTIONS" in env:
    c.PolicyKubeSpawner.opa_max_connections = int(env["E2E_OPA_MAX_CONNECTIONS"])
# Progress events come from a Kubernetes event reflector: only with a real API server.
c.KubeSpawner.events_enabled = bool(env.get("E2E_NAMESPACE"))
c.KubeSpawner.image = "quay.io/jupyterhub/k8s-singleuser-sample:4.4.0"
from tests.e2e.profiles import PROFILE_LIST  # noqa: E402

c.KubeSpawner.profile_list = PROFILE_LIST
if env.get("E2E_DEFAULT_PROFILE"):
    # A default profile not every group may select (tests/test_default_profile.py).
    c.KubeSpawner.profile_list = [{**p, "default": p["slug"] == env["E2E_DEFAULT_PROFILE"]} for p in PROFILE_LIST]

# JupyterHub loads this file inside its running event loop: start the fake
# pod server now, so the harness can hold a spawn before the first one.
if c.JupyterHub.spawner_class.startswith("tests.e2e.recording."):
    from tests.e2e.recording import PODS

    PODS.ensure_server()
