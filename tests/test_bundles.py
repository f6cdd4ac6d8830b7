"""Many hubs, one policy: signed bundles from a real bundle server.

Real nginx (Debian's) serves bundles built and signed by `jhpolicy bundle`
on loopback; real OPA processes, run with the arguments of the Helm variant
(helm-values/jhpolicy-bundles.yaml) and a configuration made as `jhpolicy
opa-config` makes it, are two hubs' sidecars; real PolicyKubeSpawner objects
ask them. OPA runs as a local process here, not in a container: a sidecar
reaches the bundle server over loopback. Kubernetes is the one missing part
(see conftest.py).

The tests poll with short delays (1-2 s) so that they are quick; the
documented settings and the time a rollout takes with them are measured by
bench/bundle_rollout.py. Nothing here waits a fixed time: each test waits for
the request or the state it needs (nginx's access log, OPA's health).
"""

from __future__ import annotations

import json
import logging
import subprocess
from pathlib import Path

import pytest
import yaml

from jhpolicy.tooling import bundle

from .helpers.bundle_server import BundleServer
from .helpers.bundles import BODY, KEYID, Hub
from .helpers.polling import wait_for
from .helpers.spawns import run_spawn

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    folder = tmp_path_factory.mktemp("keys")
    made = {}
    for name in ("good", "other"):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private = folder / f"{name}.pem"
        private.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        public = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        made[name] = (private, public.decode())
    return made


@pytest.fixture(scope="module")
def bundles(tmp_path_factory, keys):
    """Revisions r1 (the shipped policy: students up to 2 CPUs) and r2 (up to 3),
    a bundle signed with another key, and one not signed at all."""
    from jhpolicy.tooling.configmap import policy_files
    from jhpolicy.tooling.opa_binary import ensure_opa

    opa = str(Path(ensure_opa()).resolve())
    folder = tmp_path_factory.mktemp("bundles")
    r2_policies = folder / "r2-policies"
    r2_policies.mkdir()
    for name, text in policy_files(ROOT / "policies").items():
        (r2_policies / name).write_text(text)
    data = json.loads((r2_policies / "data.json").read_text())
    data["jhpolicy"]["groups"]["students"]["max"]["cpu_limit"] = 3
    (r2_policies / "data.json").write_text(json.dumps(data))
    made = {
        "r1": bundle.build(opa, ROOT / "policies", folder / "r1.tar.gz", signing_key=keys["good"][0], keyid=KEYID, revision="r1"),
        "r2": bundle.build(opa, r2_policies, folder / "r2.tar.gz", signing_key=keys["good"][0], keyid=KEYID, revision="r2"),
        "forged": bundle.build(opa, r2_policies, folder / "forged.tar.gz", signing_key=keys["other"][0], keyid=KEYID, revision="forged"),
    }
    unsigned = folder / "unsigned.tar.gz"
    subprocess.run([opa, "build", "--bundle", ".", "--output", str(unsigned), "--revision", "unsigned"],
                   cwd=r2_policies, check=True, capture_output=True)
    made["unsigned"] = unsigned
    return made


@pytest.fixture
def fleet(tmp_path, keys):
    """A stopped bundle server and two hubs' sidecars (not started)."""
    server = BundleServer(tmp_path / "nginx")
    hubs = [Hub(name, server, keys["good"][1], tmp_path) for name in ("hub-a", "hub-b")]
    yield server, hubs
    for hub in hubs:
        hub.stop()
    server.stop()


def serve_and_activate(server, hubs, first_bundle):
    """Publish the first bundle, start the server and the hubs, and wait until each has it active."""
    server.publish(first_bundle, bundle.RESOURCE)
    server.start()
    for hub in hubs:
        hub.start()
        wait_for(hub.bundle_active, f"{hub.name} to activate its first bundle")


def test_a_new_revision_reaches_every_hub_without_a_restart(fleet, bundles, caplog):
    server, hubs = fleet
    serve_and_activate(server, hubs, bundles["r1"])
    pids = [hub.process.pid for hub in hubs]
    with caplog.at_level(logging.INFO):
        assert [hub.cpu_limit() for hub in hubs] == [2.0, 2.0]

    server.publish(bundles["r2"], bundle.RESOURCE)
    for hub in hubs:
        wait_for(lambda: hub.cpu_limit() == 3.0, f"{hub.name} to decide with r2")
    assert [hub.process.pid for hub in hubs] == pids  # no restart

    # Each decision can be traced to the hub and the policy revision that made it.
    ids = [m.split("decision_id=")[1].split()[0] for m in caplog.messages if m.startswith("jhpolicy decision")]
    for hub, decision_id in zip(hubs, ids):
        (entry,) = [e for e in hub.decision_log() if e["decision_id"] == decision_id]
        assert entry["bundles"] == {"jhpolicy": {"revision": "r1"}}
        assert entry["labels"]["hub"] == hub.name
    latest = hubs[0].decision_log()[-1]
    assert latest["bundles"] == {"jhpolicy": {"revision": "r2"}}

    # "Why was this spawn decided so?" from the log line alone: replayed against r1's files.
    from .helpers.cli import jhpolicy

    replay = jhpolicy("replay", str(hubs[0].log), "--decision-id", ids[0])
    assert replay.returncode == 0, replay.stderr
    assert replay.stdout.splitlines()[0] == f"decision {ids[0]} on hub hub-a, made by bundle jhpolicy revision r1"
    assert replay.stdout.splitlines()[-1] == "same decision"


@pytest.mark.parametrize(
    "bad, logged",
    [
        ("forged", "Bundle load failed: failed to verify JWT signature"),
        ("unsigned", "Bundle load failed: bundle missing .signatures.json file"),
    ],
)
def test_a_bundle_without_a_good_signature_is_refused(fleet, bundles, bad, logged):
    server, hubs = fleet
    serve_and_activate(server, hubs, bundles["r1"])

    seen = {hub.name: len(server.fetches(hub.resource)) for hub in hubs}
    server.publish(bundles[bad], bundle.RESOURCE)
    for hub in hubs:
        # The bad bundle was downloaded (200), and OPA asked again after it: it was dealt with.
        def dealt_with(hub=hub):
            new = server.fetches(hub.resource)[seen[hub.name]:]
            return 200 in new and len(new) > new.index(200) + 1

        wait_for(dealt_with, f"{hub.name} to fetch the {bad} bundle and poll again")
        assert logged in hub.log_text()
        assert hub.cpu_limit() == 2.0  # r1 keeps deciding
        assert hub.bundle_active()


def test_no_bundle_at_start_fails_closed_until_one_activates(fleet, bundles):
    server, hubs = fleet
    hub = hubs[0]
    hub.start()  # the bundle server is down, nothing persisted
    r = run_spawn(hub.url, BODY, groups=["students"])
    assert r.status == 503 and r.pod is None
    assert not hub.bundle_active()  # the Helm variant's readiness probe keeps the hub out of service

    server.publish(bundles["r1"], bundle.RESOURCE)
    server.start()
    wait_for(hub.bundle_active, "the bundle to activate once the server is up")
    assert hub.cpu_limit() == 2.0


def test_a_restarted_sidecar_decides_at_once_from_its_persisted_bundle(fleet, bundles):
    server, hubs = fleet
    hub = hubs[0]
    server.publish(bundles["r2"], bundle.RESOURCE)
    server.start()
    hub.start()
    wait_for(hub.bundle_active, "r2 to activate")
    hub.stop()
    server.stop()

    hub.start()  # returns once OPA answers /health
    assert hub.bundle_active()
    assert hub.cpu_limit() == 3.0
    assert server.process is None  # decided with the server down


def test_opa_config_command_prints_a_configmap(tmp_path, keys):
    from jhpolicy.cli import main

    public = tmp_path / "public.pem"
    public.write_text(keys["good"][1])
    out = tmp_path / "configmap.yaml"
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(["opa-config", "--server-url", "https://bundles.example.org", "--keyid", KEYID,
                     "--public-key", str(public), "--hub", "physics"]) == 0
    out.write_text(buffer.getvalue())
    manifest = yaml.safe_load(out.read_text())
    assert manifest["kind"] == "ConfigMap" and manifest["metadata"]["name"] == "jhpolicy-opa-config"
    config = yaml.safe_load(manifest["data"]["opa-config.yaml"])
    assert config["bundles"]["jhpolicy"]["signing"] == {"keyid": KEYID}
    assert config["keys"][KEYID]["key"] == keys["good"][1]
    assert config["labels"] == {"hub": "physics"}
    assert config["bundles"]["jhpolicy"]["persist"] is True
