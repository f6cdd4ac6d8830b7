"""The hub exactly as the Zero to JupyterHub chart 4.4.0 runs it, on this machine.

`helm template` (real Helm) renders the chart with the given values files;
the hub container's files are laid out as the pod mounts them (the chart's
own jupyterhub_config.py and z2jh.py and the rendered ConfigMap at
/usr/local/etc/jupyterhub, the rendered Secret at .../secret, the database
folder at /srv/jupyterhub), and the container's own command runs with its
rendered environment, in a virtualenv with the hub image's exact packages
(helm-values/hub-image/requirements.txt) where jhpolicy is installed as the
hub Dockerfile installs it (the wheel, with the image's jupyterhub and
kubespawner pinned). configurable-http-proxy runs with the proxy
container's rendered args; the OPA sidecar with its rendered args and the
policy ConfigMap laid out as the kubelet mounts it.

What differs from a pod, and only that, is where things are on this machine:
- the pod's paths live under this hub's folder: the two chart files are the
  chart's text with "/usr/local/etc/jupyterhub" replaced by that folder;
- addresses: Kubernetes would give services ("hub", "proxy-api") and pod
  ports; here every process listens on 127.0.0.1 at free ports. A last
  hub.extraConfig snippet (`zz-this-machine`, in a values file of the
  harness's, applied after everyone else's) points the hub at them, as the
  service environment variables would. The hub reaches the API server with
  the test cluster's kube config instead of a service account.
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import yaml

from jhpolicy.tooling.configmap import policy_files
from jhpolicy.tooling.local_opa import free_port, stop_process

from ..helpers.sidecar import ConfigMapMount, sidecar_command
from .hub import ROOT, Hub, find_chp

CHART = ROOT / "jhpolicy" / "z2jh" / "jupyterhub-4.4.0.tgz"
HELM = ROOT / ".tools" / "k8s" / "bin" / "helm"
POD_ETC = "/usr/local/etc/jupyterhub"
DOCKERFILE = ROOT / "helm-values" / "hub-image" / "Dockerfile"


def render(values: list[Path], namespace: str, workdir: Path) -> list[dict]:
    home = workdir / "helm-home"
    env = {"HOME": str(home), "HELM_CACHE_HOME": str(home / "cache"), "HELM_CONFIG_HOME": str(home / "config"),
           "HELM_DATA_HOME": str(home / "data"), "PATH": "/usr/bin:/bin"}
    command = [str(HELM), "template", "jhub", str(CHART), "-n", namespace, "--kube-version", "v1.34.4",
               *(a for v in values for a in ("-f", str(v)))]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


def find(docs: list[dict], kind: str, name: str) -> dict:
    (doc,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


class ChartHub(Hub):
    def __init__(self, workdir: Path, cluster, namespace: str, singleuser_port: int, values: list[Path],
                 python: Path, policies: Path, configmaps: dict[str, dict[str, bytes]] | None = None):
        """`configmaps`: ConfigMaps the admin applies beside the chart (by
        name: file name to content) that the hub container mounts."""
        super().__init__(workdir, opa_url="", cluster=cluster, namespace=namespace, singleuser_port=singleuser_port)
        self.python, self.policies, self.configmaps = python, policies, configmaps or {}
        self.hub_port, self.api_port, self.opa_port, self.diag_port = (free_port() for _ in range(4))
        # The pod's service addresses, on loopback: applied last, through the chart's own extraConfig.
        machine = workdir / "this-machine.yaml"
        machine.write_text(yaml.safe_dump(self._machine_values(namespace, singleuser_port)))
        self.values = [*values, machine]
        self.docs = render(self.values, namespace, workdir)
        self.secret = {k: base64.b64decode(v).decode() for k, v in find(self.docs, "Secret", "hub")["data"].items()}
        self.root = workdir / "pod"
        self._lay_out_the_hub_pod()
        self.sidecar = self.chp = None

    def _machine_values(self, namespace: str, singleuser_port: int) -> dict:
        snippet = "\n".join([
            f'c.JupyterHub.hub_bind_url = "http://127.0.0.1:{self.hub_port}"',
            f'c.JupyterHub.hub_connect_url = "http://127.0.0.1:{self.hub_port}"',
            f'c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{self.api_port}"',
            f'c.PolicyKubeSpawner.opa_url = "http://127.0.0.1:{self.opa_port}"',
            f"c.KubeSpawner.port = {singleuser_port}  # where tests/kube/pod_ips.py answers for the pods",
            "c.KubeSpawner.delete_grace_period = 0",
            "c.Spawner.poll_interval = 2",
            "for service in c.JupyterHub.services:  # the idle culler's --url names the pod's hub port",
            "    service['command'] = [a.replace('localhost:8081', '127.0.0.1:%d') for a in service.get('command', [])]"
            % self.hub_port,
        ])
        harness = ["admin:users", "admin:servers", "admin:groups", "tokens", "read:metrics"]
        return {"hub": {
            "services": {"harness": {"apiToken": self.tokens["harness"]},
                         "course-orchestrator": {"apiToken": self.tokens["course-orchestrator"]}},
            "loadRoles": {"harness": {"scopes": harness, "services": ["harness"]},
                          "orchestrator": {"scopes": ["servers", "read:users"], "services": ["course-orchestrator"]}},
            "config": {"JupyterHub": {"authenticator_class": "dummy", "allow_named_servers": True,
                                      "authenticate_prometheus": False},
                       "Authenticator": {"allow_all": True, "admin_users": ["admin"]}},
            "extraConfig": {"zz-this-machine": snippet},
        }}

    def _lay_out_the_hub_pod(self) -> None:
        deployment = find(self.docs, "Deployment", "hub")["spec"]["template"]["spec"]
        self.container = next(c for c in deployment["containers"] if c["name"] == "hub")
        volumes = {v["name"]: v for v in deployment["volumes"]}
        configmap = find(self.docs, "ConfigMap", "hub")["data"]
        for mount in self.container["volumeMounts"]:
            volume, where = volumes[mount["name"]], self.at(mount["mountPath"])
            if volume.get("configMap", {}).get("name") in self.configmaps:
                ConfigMapMount(where, self.configmaps[volume["configMap"]["name"]])
            elif "configMap" in volume or "secret" in volume:
                files = configmap if "configMap" in volume else self.secret
                if "subPath" in mount:
                    where.parent.mkdir(parents=True, exist_ok=True)
                    where.write_text(self._mapped(files[mount["subPath"]]))
                else:
                    where.mkdir(parents=True, exist_ok=True)
                    for key, text in files.items():
                        (where / key).write_text(text)
            else:  # the database volume
                where.mkdir(parents=True, exist_ok=True)

    def at(self, pod_path: str) -> Path:
        return self.root / pod_path.lstrip("/")

    def _mapped(self, text: str) -> str:
        return text.replace(POD_ETC, str(self.at(POD_ETC)))

    def _env(self) -> dict:
        env = {"PATH": f"{self.python.parent}:/usr/bin:/bin", "HOME": str(self.dir),
               "KUBECONFIG": str(self.cluster.kubeconfig)}
        for item in self.container.get("env", []):
            source = item.get("valueFrom", {})
            if "value" in item:
                env[item["name"]] = item["value"]
            elif "secretKeyRef" in source:
                env[item["name"]] = self.secret[source["secretKeyRef"]["key"]]
            elif source.get("fieldRef", {}).get("fieldPath") == "metadata.namespace":
                env[item["name"]] = self.namespace
        # What Kubernetes sets for the chart's Services (the chart's config reads them).
        env.update(HUB_SERVICE_HOST="127.0.0.1", HUB_SERVICE_PORT=str(self.hub_port),
                   PROXY_API_SERVICE_HOST="127.0.0.1", PROXY_API_SERVICE_PORT=str(self.api_port))
        return env

    def start(self, timeout: float = 90) -> ChartHub:
        if self.sidecar is None:
            self._start_sidecar()
            self._start_proxy()
        args = [a.replace(POD_ETC, str(self.at(POD_ETC))) for a in self.container["args"]]
        self.log_file = open(self.log_path, "wb")
        self.process = subprocess.Popen([str(self.python.parent / args[0]), *args[1:]], cwd=self.at("/srv/jupyterhub"),
                                        env=self._env(), stdout=self.log_file, stderr=subprocess.STDOUT)
        self.wait_until_up(timeout)
        self._make_users()
        return self

    def _start_sidecar(self) -> None:
        hub = find(self.docs, "Deployment", "hub")["spec"]["template"]["spec"]
        opa = next(c for c in hub["containers"] if c["name"] == "opa")
        (mount,) = [m for m in opa["volumeMounts"] if m["name"] == "jhpolicy-policies"]
        self.policy_mount = ConfigMapMount(self.at(mount["mountPath"]), policy_files(self.policies))
        command = sidecar_command(opa, {mount["mountPath"]: self.policy_mount.root}, self.opa_port, self.diag_port)
        self.sidecar_log = self.dir / "opa.log"
        self.sidecar = subprocess.Popen(command, stdout=open(self.sidecar_log, "wb"), stderr=subprocess.STDOUT)
        self._wait(lambda: self._ok(f"http://127.0.0.1:{self.diag_port}/health"), "the OPA sidecar's /health",
                   self.sidecar)

    def _start_proxy(self) -> None:
        proxy = find(self.docs, "Deployment", "proxy")["spec"]["template"]["spec"]["containers"][0]
        args = []
        for arg in proxy["command"][1:]:
            arg = {"--ip=": "--ip=127.0.0.1", "--api-ip=": "--api-ip=127.0.0.1"}.get(arg, arg)
            arg = arg.replace("--api-port=8001", f"--api-port={self.api_port}").replace("--port=8000", f"--port={self.port}")
            arg = arg.replace("http://hub:$(HUB_SERVICE_PORT)", f"http://127.0.0.1:{self.hub_port}")
            args.append(arg)
        token = self.secret["hub.config.ConfigurableHTTPProxy.auth_token"]
        self.chp = subprocess.Popen([find_chp(), *args], env={**os.environ, "CONFIGPROXY_AUTH_TOKEN": token},
                                    stdout=open(self.dir / "chp.log", "wb"), stderr=subprocess.STDOUT)
        self._wait(lambda: self._ok(f"http://127.0.0.1:{self.port}/", any_status=True), "configurable-http-proxy", self.chp)

    @staticmethod
    def _ok(url: str, any_status: bool = False) -> bool:
        try:
            status = httpx.get(url, timeout=2, trust_env=False).status_code
        except httpx.TransportError:
            return False
        return any_status or status == 200

    def _wait(self, predicate, what: str, process) -> None:
        import time

        deadline = time.monotonic() + 60
        while not predicate():
            assert process.poll() is None, f"{what}: the process exited"
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.1)

    def _make_users(self) -> None:
        for name in ("alice", "gina", "admin"):
            self.add_user(name, {"alice": ("students",), "gina": ("gpu-users",), "admin": ()}[name])

    def change_policy(self, edit) -> None:
        """An admin's edit of the policy ConfigMap: `edit(files)` on its files; the kubelet swaps them."""
        files = policy_files(self.policies)
        edit(files)
        self.policy_mount.update(files)

    def stop(self) -> None:
        super().stop()
        for process in (self.chp, self.sidecar):
            if process is not None:
                stop_process(process)


def build_wheel(folder: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(folder), str(ROOT)],
                   check=True, capture_output=True, timeout=600)
    (wheel,) = folder.glob("jhpolicy-*.whl")
    return wheel


def hub_image_python(venv: Path, wheel: Path | None) -> Path:
    """The hub image's Python (a venv with exactly helm-values/hub-image/requirements.txt,
    made by ./dev), then, given a `wheel`, jhpolicy installed as the hub Dockerfile installs it."""
    python = venv / "bin" / "python"
    assert python.exists(), f"{venv} is missing: ./dev setup makes it"
    def pins(lines) -> dict[str, str]:
        return {name.lower().replace("_", "-"): version for name, _, version in
                (line.strip().partition("==") for line in lines if "==" in line and not line.startswith("#"))}

    image = pins((ROOT / "helm-values" / "hub-image" / "requirements.txt").read_text().splitlines())
    frozen = pins(subprocess.run([str(python), "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True,
                                 check=True).stdout.splitlines())
    added = [n for n in frozen if n not in image and n != "pip"]
    if added:  # back to the image: what an earlier run installed goes
        subprocess.run([str(python), "-m", "pip", "uninstall", "--quiet", "--yes", *added], check=True, capture_output=True)
    upgraded = [f"{n}=={image[n]}" for n, version in frozen.items() if n in image and version != image[n]]
    if upgraded:  # and what it upgraded (the idle culler) is the image's again
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", *upgraded], check=True,
                       capture_output=True, timeout=600)
    if wheel is None:
        return python
    versions = {}
    for module in ("jupyterhub", "kubespawner"):
        versions[module] = subprocess.run([str(python), "-c", f"import {module}; print({module}.__version__)"],
                                          capture_output=True, text=True, check=True).stdout.strip()
    # The Dockerfile's RUN line: the wheel and the culler it pins, keeping the
    # image's jupyterhub and kubespawner.
    culler = re.findall(r"^\s+(jupyterhub-idle-culler==[0-9.]+) ", DOCKERFILE.read_text(), re.M)
    assert len(culler) == 1, "the hub Dockerfile's RUN line pins jupyterhub-idle-culler once"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-cache-dir", str(wheel), *culler,
                    f"jupyterhub=={versions['jupyterhub']}", f"jupyterhub-kubespawner=={versions['kubespawner']}"],
                   check=True, capture_output=True, timeout=600)
    return python


FORUM_BODY = {"kubespawner_override": {"image": "jupyterhub/k8s-singleuser-sample:0.8.4", "cpu_limit": 8}}


USER_CONFIG = """\
singleuser:
  image: {name: quay.io/jupyterhub/k8s-singleuser-sample, tag: "4.4.0"}
  memory: {limit: 2G, guarantee: 1G}
  cpu: {limit: 1}
  # The test API server admits no privileged container (the chart's iptables init container is one),
  # and has no storage provisioner to bind a home volume's claim.
  cloudMetadata: {blockWithIptables: false}
  storage: {type: none}
scheduling:
  userScheduler: {enabled: false}  # the chart's own scheduler Deployment does not run here: the cluster's schedules
# The chart's culler, culling every second (its default: 600) so that lifetimes of seconds are tested.
cull: {every: 1}
"""


def ready(hub, user: str, server: str) -> None:
    hub.wait_for(lambda: (hub.server_state(user, server) or {}).get("ready"), f"{user}:{server} to be ready", timeout=120)


def culler_line(hub) -> str:
    """The culler service's start line (jhpolicy.culler): which culler, from where."""
    hub.wait_for(lambda: "culling with jhpolicy's arbiter" in hub.log_text(), "the chart's culler service to start")
    return next(line for line in hub.log_text().splitlines() if "culling with jhpolicy's arbiter" in line)
