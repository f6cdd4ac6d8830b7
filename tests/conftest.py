"""Shared fixtures.

Real parts only: a real OPA process with the project's policies and real
PolicyKubeSpawner objects. The offline spawns (run_spawn) need no Kubernetes
API server: the spawner is built with a throwaway kube config
(jhpolicy.offline) that nothing connects to, because load_user_options and
get_pod_manifest make no API call. The end-to-end tests get a real one from
the session fixtures `cluster` and `pod_ips` (tests/kube).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
from tornado import web
from traitlets.config import Config

from jhpolicy.offline import OfflineRequester, OfflineUser, apply_group_overrides, make_spawner, pod_summary, pod_to_create

from .fixture_policies import POLICIES, ROOT  # the shipped .rego with the tests' own data
from .opa_server import opa_server

TEST_POLICIES = ROOT / "tests" / "policies"

# KubeSpawner's own suite, vendored: tests/test_kubespawner_suite.py runs it
# in its own venv and process, never as part of this one.
collect_ignore = ["upstream"]

# Tiers, from what each test needs (the first that applies): `browser`
# (Chromium), `kube` (the local API server with kwok nodes), `hub` (a real
# JupyterHub process), `opa` (a real OPA process), `unit` (none of them).
# `./dev unit` runs the unit tier alone; `-m "not kube and not browser"`
# skips what needs Kubernetes or Chromium.
TIERS = ("browser", "kube", "hub", "opa", "unit")
OPA_FIXTURES = {"opa", "spawn", "opa_with_token_auth", "built_wheel"}


def tier_of(item) -> str:
    # A test may name its tier when what it needs is not a fixture (a
    # command it runs, say).
    named = [t for t in TIERS if item.get_closest_marker(t)] if hasattr(item, "get_closest_marker") else []
    if named:
        return named[0]
    needs = set(getattr(item, "fixturenames", ()))
    module = getattr(item, "module", None)
    if "browser" in needs:
        return "browser"
    if {"cluster", "pod_ips"} & needs:
        return "kube"
    if module is not None and any(hasattr(module, name) for name in ("Hub", "ChartHub")):
        return "hub"
    if OPA_FIXTURES & needs or (module is not None and any(
            hasattr(module, name) for name in ("jhpolicy", "LocalOPA", "opa_server", "run_spawn", "installed"))):
        return "opa"
    return "unit"


def pytest_configure(config):
    for tier in TIERS:
        config.addinivalue_line("markers", f"{tier}: a test of the {tier} tier (tests/conftest.py, tier_of)")


def pytest_collection_modifyitems(config, items):
    for item in items:
        item.add_marker(getattr(pytest.mark, tier_of(item)))


@pytest.fixture(scope="session")
def opa():
    """OPA with the shipped policies and the tests' data, plus the contract-breaking test policies."""
    with opa_server([POLICIES, TEST_POLICIES], ["--set=decision_logs.console=true"]) as server:
        yield server


@dataclass
class SpawnResult:
    error: web.HTTPError | None
    spawner: object
    before: dict
    after: dict
    pod: dict | None
    manifest: object = None  # the V1Pod KubeSpawner built

    @property
    def status(self) -> int:
        return self.error.status_code if self.error else 200

    @property
    def message(self) -> str:
        from jhpolicy.errors import message_of

        return message_of(self.error) if self.error else ""

    def changed(self) -> dict:
        """Config traits whose value differs after the request, as (before, after)."""
        return {k: (self.before[k], self.after[k]) for k in self.before if self.before[k] != self.after[k]}


def _trait_values(spawner) -> dict:
    from jhpolicy.spawner import _copy_containers

    return {name: _copy_containers(getattr(spawner, name)) for name in spawner.trait_names(config=True)}


# One loop for all offline spawns: KubeSpawner caches its (never used)
# Kubernetes client per loop, and building one costs ~50 ms of SSL setup.
_LOOP = asyncio.new_event_loop()


def run_spawn(
    opa_url: str,
    body: dict,
    *,
    groups=(),
    user="alice",
    server="",
    requester: OfflineRequester | None = None,
    config: Config | None = None,
) -> SpawnResult:
    """group_overrides, load_user_options, then get_pod_manifest, as a hub does."""

    async def go():
        c = Config(config) if config else Config()
        c.PolicyKubeSpawner.opa_url = opa_url
        who = user if isinstance(user, OfflineUser) else OfflineUser(name=user, groups=list(groups))
        spawner = make_spawner(c, who, body, server, requester)
        await apply_group_overrides(spawner)
        before = _trait_values(spawner)
        error = pod = manifest = None
        try:
            manifest = await pod_to_create(spawner)
            pod = pod_summary(manifest)
        except web.HTTPError as e:
            error = e
        return SpawnResult(error, spawner, before, _trait_values(spawner), pod, manifest)

    return _LOOP.run_until_complete(go())


@pytest.fixture
def spawn(opa):
    def _spawn(body, **kwargs):
        return run_spawn(opa.url, body, **kwargs)

    return _spawn


# --- real Kubernetes (tests/kube): one control plane per test session ---


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    from .kube.cluster import Cluster

    cluster = Cluster(tmp_path_factory.mktemp("kube")).start()
    try:
        cluster.add_node("kwok-cpu-0")
        cluster.add_node("kwok-gpu-0", gpus=2)
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def pod_ips():
    from .kube.pod_ips import PodIPs

    servers = PodIPs().start()
    yield servers
    servers.stop()


@pytest.fixture(scope="module")
def browser():
    """Chromium, for the spawn page tests (tests/e2e/browser.py)."""
    from .e2e.browser import chromium

    with chromium() as b:
        yield b
