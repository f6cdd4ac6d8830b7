"""A real Kubernetes control plane on loopback, for the end-to-end tests.

etcd, kube-apiserver, kube-controller-manager and kube-scheduler (built by
./dev from k8s.io/kubernetes into .tools/k8s/bin) and kwok, which plays the
kubelets: it keeps fake nodes Ready and moves scheduled pods to Running
with an IP from 127.200.0.0/24. Every component listens on 127.0.0.1 only;
nothing here dials a Service's cluster IP or leaves 127.0.0.0/8.

Processes are started in their own session and stopped by PID.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import ssl
import subprocess
import time
from pathlib import Path

import httpx

from jhpolicy.tooling.local_opa import free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".tools" / "k8s" / "bin"
POD_CIDR = "127.200.0.0/24"
FAKE_NODE = {"kwok.x-k8s.io/node": "fake"}


class Cluster:
    def __init__(self, workdir: Path):
        self.dir = workdir
        self.token = secrets.token_hex(16)
        self.processes: dict[str, subprocess.Popen] = {}
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.kubeconfig = workdir / "kubeconfig"
        self.client: httpx.Client | None = None

    # --- lifecycle ---

    def start(self) -> "Cluster":
        missing = [b for b in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok") if not (BIN / b).exists()]
        if missing:
            raise RuntimeError(f"{', '.join(missing)} not built: run ./dev setup (builds them into {BIN})")
        pki = self.dir / "pki"
        pki.mkdir(parents=True, exist_ok=True)
        self._service_account_key(pki)
        (self.dir / "tokens.csv").write_text(f"{self.token},jhpolicy-admin,jhpolicy-admin,system:masters\n")

        client_port, peer_port = free_port(), free_port()
        self._run("etcd", [
            "--name=jhpolicy", f"--data-dir={self.dir / 'etcd'}",
            f"--listen-client-urls=http://127.0.0.1:{client_port}", f"--advertise-client-urls=http://127.0.0.1:{client_port}",
            f"--listen-peer-urls=http://127.0.0.1:{peer_port}", f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
            f"--initial-cluster=jhpolicy=http://127.0.0.1:{peer_port}", "--listen-metrics-urls=",
        ])
        self._wait(lambda: httpx.get(f"http://127.0.0.1:{client_port}/health", timeout=2, trust_env=False).status_code == 200, "etcd")
        self._run("kube-apiserver", [
            f"--etcd-servers=http://127.0.0.1:{client_port}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={self.port}",
            f"--cert-dir={pki}", f"--token-auth-file={self.dir / 'tokens.csv'}",
            "--authorization-mode=RBAC",
            f"--service-account-key-file={pki / 'sa.pub'}", f"--service-account-signing-key-file={pki / 'sa.key'}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            # Services get cluster IPs from this range; nothing here ever dials one.
            "--service-cluster-ip-range=10.96.0.0/16",
            "--endpoint-reconciler-type=none", "--profiling=false",
        ])
        # The API server writes its self-signed serving certificate on start.
        self._wait(lambda: (pki / "apiserver.crt").exists(), "kube-apiserver's certificate")
        self.client = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, verify=ssl.create_default_context(cafile=str(pki / "apiserver.crt")),
            timeout=30, trust_env=False,
        )
        self._wait(lambda: self.client.get("/readyz").status_code == 200, "kube-apiserver")
        self._write_kubeconfig()
        self._run("kube-controller-manager", [
            f"--kubeconfig={self.kubeconfig}", "--bind-address=127.0.0.1", "--secure-port=0", "--leader-elect=false",
            f"--service-account-private-key-file={pki / 'sa.key'}", f"--root-ca-file={pki / 'apiserver.crt'}",
            "--use-service-account-credentials=false", "--controllers=*,-nodeipam",
        ])
        self._run("kube-scheduler", [f"--kubeconfig={self.kubeconfig}", "--bind-address=127.0.0.1", "--secure-port=0", "--leader-elect=false"])
        self._run("kwok", [
            f"--kubeconfig={self.kubeconfig}", f"--config={BIN.parent / 'kwok-stages.yaml'}", "--manage-all-nodes=false",
            "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
            f"--cidr={POD_CIDR}", "--node-ip=127.0.0.1", "--server-address=",
        ])
        return self

    def stop(self) -> None:
        for name, process in reversed(list(self.processes.items())):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
        self.processes.clear()
        if self.client:
            self.client.close()

    def log(self, name: str) -> str:
        return (self.dir / f"{name}.log").read_text(errors="replace")

    # --- objects ---

    def add_node(self, name: str, cpu: str = "16", memory: str = "64Gi", gpus: int = 0) -> dict:
        capacity = {"cpu": cpu, "memory": memory, "pods": "110"}
        if gpus:
            capacity["nvidia.com/gpu"] = str(gpus)
        node = {
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "annotations": {**FAKE_NODE, "node.alpha.kubernetes.io/ttl": "0"},
                         "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "type": "kwok"}},
            "status": {"capacity": capacity, "allocatable": capacity},
        }
        created = self.request("POST", "/api/v1/nodes", json=node)
        self._wait(lambda: self._node_ready(name), f"node {name} Ready")
        return created

    def ensure_namespace(self, name: str) -> None:
        r = self.client.post("/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        assert r.status_code in (201, 409), r.text
        # The controller-manager creates the default service account that pods need.
        self._wait(lambda: self.client.get(f"/api/v1/namespaces/{name}/serviceaccounts/default").status_code == 200, f"namespace {name}")

    def pods(self, namespace: str, selector: str = "") -> list[dict]:
        return self.request("GET", f"/api/v1/namespaces/{namespace}/pods", params={"labelSelector": selector} if selector else None)["items"]

    def request(self, method: str, path: str, **kwargs) -> dict:
        r = self.client.request(method, path, **kwargs)
        if r.status_code >= 400:
            raise ApiError(r.status_code, r.text)
        return r.json()

    def wait_for(self, predicate, what: str, timeout: float = 90):
        return self._wait(predicate, what, timeout)

    # --- helpers ---

    def _node_ready(self, name: str) -> bool:
        node = self.request("GET", f"/api/v1/nodes/{name}")
        conditions = {c["type"]: c["status"] for c in node.get("status", {}).get("conditions", [])}
        taints = node.get("spec", {}).get("taints", [])
        return conditions.get("Ready") == "True" and not any(t["key"].startswith("node.kubernetes.io/not-ready") for t in taints)

    def _run(self, name: str, args: list[str]) -> None:
        log = open(self.dir / f"{name}.log", "wb")
        self.processes[name] = subprocess.Popen([str(BIN / name), *args], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def _wait(self, predicate, what: str, timeout: float = 90):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited ({process.returncode}) while waiting for {what}:\n{self.log(name)[-3000:]}")
            try:
                result = predicate()
                if result:
                    return result
            except (httpx.HTTPError, ApiError, KeyError) as e:
                last = e
            time.sleep(0.2)
        raise TimeoutError(f"timed out waiting for {what} (last error: {last!r})")

    def _service_account_key(self, pki: Path) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        (pki / "sa.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()))
        (pki / "sa.pub").write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))

    def _write_kubeconfig(self) -> None:
        config = {
            "apiVersion": "v1", "kind": "Config", "current-context": "jhpolicy",
            "clusters": [{"name": "jhpolicy", "cluster": {"server": self.url, "certificate-authority": str(self.dir / "pki" / "apiserver.crt")}}],
            "users": [{"name": "jhpolicy-admin", "user": {"token": self.token}}],
            "contexts": [{"name": "jhpolicy", "context": {"cluster": "jhpolicy", "user": "jhpolicy-admin"}}],
        }
        self.kubeconfig.write_text(json.dumps(config))


class ApiError(Exception):
    def __init__(self, status: int, body: str):
        super().__init__(f"HTTP {status}: {body[:500]}")
        self.status = status
        self.body = body
