"""Spawners for the end-to-end hub, with Kubernetes replaced by a recorder.

Used only where a real API server cannot serve the test on this machine: the
300-request bursts of tests/test_e2e_faults.py (see its direct_hub). Every
other end-to-end test runs PolicyKubeSpawner against the real API server of
tests/kube/cluster.py. These classes replace exactly the
KubeSpawner methods that talk to it: `_start` past `load_user_options` and
`get_pod_manifest` (namespace, reflectors, PVC, pod creation, waiting for
the pod), `poll`, `stop` and `delete_forever`, and the pod reflector that a
decision with quotas starts (no pods to count: the recorder's books hold
what the decisions booked). Everything before that runs
for real: JupyterHub's handlers, `User.spawn`, `load_user_options` with its
OPA call, and KubeSpawner's `get_pod_manifest()`.

The "pod" the recorder reports running is a small HTTP server in the hub
process (any path answers 200), so JupyterHub's own readiness check and proxy
routing run for real too. It also serves the harness: hold a spawn pending,
wait until a pod was recorded, release it.
"""

from __future__ import annotations

import asyncio
import json
import os

from kubespawner import KubeSpawner
from tornado import web
from tornado.httpserver import HTTPServer

from jhpolicy.spawner import PolicyKubeSpawner
from jhpolicy.tooling.offline import pod_to_create

RECORD_FILE = os.environ.get("E2E_RECORD_FILE", "")
POD_PORT = int(os.environ.get("E2E_POD_PORT", "0"))


class PodRegistry:
    def __init__(self):
        self.running: set[str] = set()
        self.holds: dict[str, asyncio.Event] = {}
        self.recorded: dict[str, asyncio.Event] = {}
        self.server = None

    def ensure_server(self):
        if self.server is None:
            app = web.Application([(r"/jhpolicy-e2e/(hold|release|recorded)/([^/]+)/(.*)", ControlHandler), (r".*", PodHandler)])
            self.server = HTTPServer(app)
            self.server.listen(POD_PORT, "127.0.0.1")

    def event(self, table, key) -> asyncio.Event:
        return table.setdefault(key, asyncio.Event())


PODS = PodRegistry()


class PodHandler(web.RequestHandler):
    def get(self):
        self.write({"fake_single_user_server": True})


class ControlHandler(web.RequestHandler):
    async def post(self, action, user, server):
        key = f"{user}/{server}"
        if action == "hold":
            PODS.holds[key] = asyncio.Event()
        elif action == "release":
            PODS.event(PODS.holds, key).set()
        self.write({"ok": True})

    async def get(self, action, user, server):
        # Long-poll until the pod for user/server has been recorded.
        await asyncio.wait_for(PODS.event(PODS.recorded, f"{user}/{server}").wait(), 30)
        PODS.recorded.pop(f"{user}/{server}", None)
        self.write({"recorded": True})


class RecordingMixin:
    async def _start(self):
        PODS.ensure_server()
        pod = await pod_to_create(self)
        key = f"{self.user.name}/{self.name}"
        with open(RECORD_FILE, "a") as f:
            f.write(json.dumps({"user": self.user.name, "server": self.name, "pod": self.api.api_client.sanitize_for_serialization(pod)}) + "\n")
        PODS.event(PODS.recorded, key).set()
        if key in PODS.holds:
            await PODS.holds.pop(key).wait()
        PODS.running.add(key)
        return f"http://127.0.0.1:{POD_PORT}"

    async def _start_watching_pods(self, replace=False):
        return None

    async def poll(self):
        return None if f"{self.user.name}/{self.name}" in PODS.running else 0

    async def stop(self, now=False):
        PODS.running.discard(f"{self.user.name}/{self.name}")

    async def delete_forever(self):
        pass


class RecordingPolicyKubeSpawner(RecordingMixin, PolicyKubeSpawner):
    pass


class RecordingKubeSpawner(RecordingMixin, KubeSpawner):
    """Plain KubeSpawner with the same recorder, for side-by-side comparisons."""
