"""Shared fixtures.

Real parts only: a real OPA process with the project's policies and real
PolicyKubeSpawner objects. The offline spawns (run_spawn) need no Kubernetes
API server: the spawner is built with a throwaway kube config
(jhpolicy.tooling.offline) that nothing connects to, because load_user_options and
get_pod_manifest make no API call. The end-to-end tests get a real one from
the session fixtures `cluster` and `pod_ips` (tests/kube).
"""

from __future__ import annotations

import pytest

from .helpers.opa_server import opa_server
from .helpers.policies import POLICIES, TEST_POLICIES, assemble_policies
from .helpers.spawns import run_spawn

# KubeSpawner's own suite, vendored: tests/test_kubespawner_suite.py runs it
# in its own venv and process, never as part of this one.
collect_ignore = ["upstream"]

# Tiers, from what each test needs (the first that applies): `browser`
# (Chromium), `kube` (the local API server with kwok nodes), `hub` (a real
# JupyterHub process), `opa` (a real OPA process), `unit` (none of them).
# `./dev unit` runs the unit tier alone; `-m "not kube and not browser"`
# skips what needs Kubernetes or Chromium.
TIERS = ("browser", "kube", "hub", "opa", "unit")

# ONCE: `./dev test` runs the tests on two version sets at once, the newest
# JupyterHub and KubeSpawner and the z2jh 4.4.0 hub image's. The second pass
# (`-m "not once"`) runs what runs in a hub: the spawner, the books, the spawn
# page, the endpoint, the culler. A module marked `once` runs on the newest
# set only: the `jhpolicy` command (it runs where the admin installs it, with
# pip's newest), and what runs in a venv of its own whichever venv runs pytest
# (the docs build, the tutorials, the chart hub, KubeSpawner's own suite).
ONCE = "once"
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
    # The shipped .rego with the tests' own data (tests/helpers/policies.py).
    assemble_policies()
    for tier in TIERS:
        config.addinivalue_line("markers", f"{tier}: a test of the {tier} tier (tests/conftest.py, tier_of)")
    config.addinivalue_line("markers", f"{ONCE}: runs on one version set only (tests/conftest.py, ONCE)")


def pytest_collection_modifyitems(config, items):
    for item in items:
        item.add_marker(getattr(pytest.mark, tier_of(item)))


@pytest.fixture(autouse=True)
def _no_views_kept_from_other_tests():
    """The hub keeps allowance views for a few seconds (jhpolicy.hub.view_cache),
    in the process: a test's page must not show a view an earlier test's
    OPA or data gave for the same input."""
    from jhpolicy.hub import view_cache

    view_cache.VIEWS.clear()


@pytest.fixture(scope="session")
def opa():
    """OPA with the shipped policies and the tests' data, plus the contract-breaking test policies."""
    with opa_server([POLICIES, TEST_POLICIES], ["--set=decision_logs.console=true"]) as server:
        yield server


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
