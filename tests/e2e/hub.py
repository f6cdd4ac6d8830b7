"""Run a real JupyterHub (with configurable-http-proxy from npm) for tests.

Kubernetes is replaced by the recorder in recording.py; see its docstring.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx

from jhpolicy.tooling.local_opa import free_port, stop_process

ROOT = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).with_name("jupyterhub_config.py")


def find_chp() -> str:
    local = ROOT / ".tools" / "node_modules" / ".bin" / "configurable-http-proxy"
    found = os.environ.get("E2E_CHP") or (str(local) if local.exists() else shutil.which("configurable-http-proxy"))
    if not found:
        raise RuntimeError("configurable-http-proxy not found: run ./dev setup (installs it from npm into .tools)")
    return found


class Hub:
    def __init__(
        self, workdir: Path, opa_url: str, spawner: str | None = None, opa_timeout: float = 5.0,
        cluster=None, namespace: str | None = None, singleuser_port: int = 8888, env: dict | None = None,
    ):
        """With `cluster` (tests/kube/cluster.py), the hub runs the real
        PolicyKubeSpawner against that API server in `namespace`; without,
        the recorder (recording.py) stands in for Kubernetes."""
        self.dir = workdir
        self.opa_url = opa_url
        self.port = free_port()
        self.pod_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.tokens = {name: secrets.token_hex(16) for name in ("harness", "course-orchestrator", "allowance-reader")}
        self.record_file = workdir / "pods.jsonl"
        self.log_path = workdir / "jupyterhub.log"
        self.spawner = spawner
        self.opa_timeout = opa_timeout
        self.cluster = cluster
        self.namespace = namespace
        self.extra_env = dict(env or {})
        if cluster is not None:
            cluster.ensure_namespace(namespace)
            self.spawner = "jhpolicy.spawner.PolicyKubeSpawner"
            self.extra_env.update(KUBECONFIG=str(cluster.kubeconfig), E2E_NAMESPACE=namespace,
                                  E2E_SINGLEUSER_PORT=str(singleuser_port))
        self.process = None
        self.client = httpx.Client(base_url=self.url, timeout=30, trust_env=False)

    def start(self, timeout: float = 60) -> "Hub":
        env = dict(
            os.environ,
            PYTHONPATH=str(ROOT),
            E2E_DIR=str(self.dir),
            E2E_HUB_PORT=str(self.port),
            E2E_HUB_API_PORT=str(free_port()),
            E2E_PROXY_API_PORT=str(free_port()),
            E2E_POD_PORT=str(self.pod_port),
            E2E_CHP=find_chp(),
            E2E_OPA_URL=self.opa_url,
            E2E_OPA_TIMEOUT=str(self.opa_timeout),
            E2E_RECORD_FILE=str(self.record_file),
            E2E_HARNESS_TOKEN=self.tokens["harness"],
            E2E_ORCHESTRATOR_TOKEN=self.tokens["course-orchestrator"],
            E2E_READER_TOKEN=self.tokens["allowance-reader"],
        )
        if self.spawner:
            env["E2E_SPAWNER"] = self.spawner
        env.update(self.extra_env)
        self.record_file.touch()
        self.log_file = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(CONFIG)],
            cwd=self.dir,
            env=env,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
        )
        self.wait_until_up(timeout)
        for name in ("bob", "carol"):
            self.api("POST", f"/users/{name}", token=self.tokens["harness"])
        for name in ("alice", "bob", "gina", "sam", "admin", "carol"):
            r = self.api("POST", f"/users/{name}/tokens", token=self.tokens["harness"], json={"note": "e2e"})
            assert r.status_code == 201, r.text
            self.tokens[name] = r.json()["token"]
        return self

    def wait_until_up(self, timeout: float) -> None:
        """Until the hub's REST API answers through the proxy; fail if the hub exits or `timeout` s pass."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterHub exited:\n{self.log_text()[-4000:]}")
            try:
                if self.client.get("/hub/api/").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"JupyterHub did not answer within {timeout}s:\n{self.log_text()[-4000:]}")
            time.sleep(0.1)

    def add_user(self, name: str, groups: tuple[str, ...] = ()) -> None:
        """A user with an API token, in `groups` (created if need be), through the REST API."""
        harness = self.tokens["harness"]
        self.api("POST", f"/users/{name}", token=harness)
        r = self.api("POST", f"/users/{name}/tokens", token=harness, json={"note": "e2e"})
        assert r.status_code == 201, r.text
        self.tokens[name] = r.json()["token"]
        for group in groups:
            self.api("POST", f"/groups/{group}", token=harness)
            r = self.api("POST", f"/groups/{group}/users", token=harness, json={"users": [name]})
            assert r.status_code == 200, r.text

    def restart(self, while_down=None) -> "Hub":
        """Stop the hub process and start it again on the same database; pods keep running.
        `while_down()` runs in between (e.g. to edit the database as an admin or a crash might)."""
        stop_process(self.process, timeout=20)
        self.log_file.close()
        if while_down is not None:
            while_down()
        self.log_path = self.log_path.with_name(self.log_path.stem + "-restarted.log")
        tokens = dict(self.tokens)
        self.start()
        self.tokens = {**tokens, **self.tokens}
        return self

    def stop(self) -> None:
        if self.process:
            stop_process(self.process, timeout=20)
        self.client.close()
        if self.process:
            self.log_file.close()
        self._stop_orphaned_proxy()

    def _stop_orphaned_proxy(self) -> None:
        """The proxy JupyterHub started outlives a hub that was killed or
        aborted (its pid file, in the hub's working folder, says which)."""
        import signal

        pid_file = self.dir / "jupyterhub-proxy.pid"
        try:
            pid = int(pid_file.read_text())
            os.kill(pid, signal.SIGTERM)
        except (OSError, ValueError):
            pass

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    # --- REST API ---

    def api(self, method: str, path: str, *, token: str, json=None, content=None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"}
        return self.client.request(method, "/hub/api" + path, headers=headers, json=json, content=content)

    def start_server(self, user: str, server: str = "", body=None, *, as_: str | None = None) -> httpx.Response:
        """POST /hub/api/users/{user}/servers/{server} with `body` as the JSON body."""
        token = self.tokens[as_ or user]
        content = None if body is None else json.dumps(body)
        return self.api("POST", f"/users/{user}/servers/{server}", token=token, content=content)

    def stop_server(self, user: str, server: str = "") -> None:
        r = self.api("DELETE", f"/users/{user}/servers/{server}", token=self.tokens["harness"])
        assert r.status_code in (202, 204), r.text
        # A 202 means the stop is still running; wait for it through the API.
        deadline = time.monotonic() + 30
        while self.server_state(user, server) is not None:
            assert time.monotonic() < deadline, f"{user}/{server} did not stop"
            time.sleep(0.05)

    def wait_for(self, condition, what: str, timeout: float = 60) -> None:
        """Poll `condition()` (e.g. the REST API) until true; fail after `timeout` s."""
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.1)

    def server_state(self, user: str, server: str = ""):
        r = self.api("GET", f"/users/{user}", token=self.tokens["harness"])
        return r.json().get("servers", {}).get(server)

    def progress_events(self, user: str, server: str = "", until=lambda e: e.get("ready") or e.get("failed")):
        """Read the progress stream (server-sent events) until `until(event)`."""
        events = []
        url = f"/hub/api/users/{user}/servers/{server}/progress"
        with self.client.stream("GET", url, headers={"Authorization": f"Bearer {self.tokens[user]}"}) as r:
            assert r.status_code == 200, r.read()
            for line in r.iter_lines():
                if line.startswith("data:"):
                    events.append(json.loads(line[5:]))
                    if until(events[-1]):
                        break
        return events

    async def burst(self, requests, on_response=None, timeout: float = 180) -> list[dict]:
        """Send spawn requests [(user, server, body)] all at once; return their outcomes."""
        limits = httpx.Limits(max_connections=len(requests) + 10, max_keepalive_connections=len(requests) + 10)
        async with httpx.AsyncClient(base_url=self.url, timeout=timeout, limits=limits, trust_env=False) as client:

            async def one(user, server, body):
                started = time.monotonic()
                r = await client.post(
                    f"/hub/api/users/{user}/servers/{server}",
                    headers={"Authorization": f"Bearer {self.tokens[user]}"},
                    content=json.dumps(body),
                )
                outcome = {"user": user, "server": server, "status": r.status_code,
                           "message": r.json().get("message") if r.content else None,
                           "seconds": time.monotonic() - started}
                if on_response:
                    on_response(outcome)
                return outcome

            return await asyncio.wait_for(asyncio.gather(*(one(*req) for req in requests)), timeout)

    # --- the pods: from the API server, or from the recorder (see recording.py) ---

    def pods(self) -> list[dict]:
        """[{"user", "server", "pod"}]: the live Pod objects, or every recorded manifest."""
        if self.cluster is not None:
            return [
                {"user": p["metadata"]["labels"].get("hub.jupyter.org/username"),
                 "server": p["metadata"].get("annotations", {}).get("hub.jupyter.org/servername", ""), "pod": p}
                for p in self.cluster.pods(self.namespace, "component=singleuser-server")
            ]
        return [json.loads(line) for line in self.record_file.read_text().splitlines()]

    def control(self, action: str, user: str, server: str = "") -> None:
        url = f"http://127.0.0.1:{self.pod_port}/jhpolicy-e2e/{action}/{user}/{server}"
        r = httpx.request("GET" if action == "recorded" else "POST", url, timeout=40, trust_env=False)
        assert r.status_code == 200, r.text
