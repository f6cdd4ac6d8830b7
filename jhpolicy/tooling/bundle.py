"""Build a signed OPA bundle of the policies and data, for many hubs.

One bundle server, many hubs: each hub's OPA sidecar polls the server and
verifies the bundle's signature before activating it (see the docs, "Many
hubs"). The bundle holds exactly what the ConfigMap would (the policy
folder's .rego and data files, tests left out); ``opa build`` writes it and
signs it with the given key, naming the key id in the signature's claims.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

from .configmap import policy_files


class BundleError(Exception):
    """The bundle could not be built; the text says why."""


def build(
    opa: str,
    policies: Path,
    out: Path,
    *,
    signing_key: Path,
    keyid: str,
    revision: str,
    signing_alg: str = "RS256",
) -> Path:
    """Write the signed bundle to ``out`` and return it."""
    if not revision:
        raise BundleError("a revision is needed: decision logs name it, so a decision can be traced to its policy")
    try:
        files = policy_files(policies)
    except ValueError as e:
        raise BundleError(str(e)) from None
    with tempfile.TemporaryDirectory(prefix="jhpolicy-bundle-") as tmp:
        staging = Path(tmp, "bundle")
        staging.mkdir()
        for name, text in files.items():
            (staging / name).write_text(text)
        claims = Path(tmp, "claims.json")
        claims.write_text(json.dumps({"keyid": keyid}))
        command = [
            str(Path(opa).resolve()), "build", "--bundle", ".", "--output", str(Path(out).resolve()), "--revision", revision,
            "--signing-key", str(Path(signing_key).resolve()), "--signing-alg", signing_alg,
            "--claims-file", str(claims),
        ]
        # Run inside the staging folder: opa build names files by the path it was given.
        done = subprocess.run(command, capture_output=True, text=True, cwd=staging)
    if done.returncode != 0:
        raise BundleError(f"opa build failed:\n{done.stderr.strip() or done.stdout.strip()}")
    return out


# Documented polling: every hub has a new revision within MAX_DELAY seconds
# (plus one download); see BENCHMARKS.md for what was measured.
MIN_DELAY, MAX_DELAY = 5, 15
RESOURCE = "bundles/jhpolicy.tar.gz"
BUNDLE_NAME = "jhpolicy"


def sidecar_config(
    server_url: str,
    *,
    keyid: str,
    public_key: str,
    hub: str,
    resource: str = RESOURCE,
    persistence_directory: str = "/var/opa",
    min_delay: int = MIN_DELAY,
    max_delay: int = MAX_DELAY,
    algorithm: str = "RS256",
) -> dict:
    """The OPA sidecar's configuration for a bundle server.

    ``signing.keyid`` makes verification mandatory (without it OPA activates
    an unsigned bundle); ``persist`` lets a restarted OPA decide with its last
    good bundle while the server is down; ``labels.hub`` names the hub in
    every decision log entry, beside the bundle's revision.
    """
    return {
        "labels": {"hub": hub},
        "services": {"bundle-server": {"url": server_url}},
        "bundles": {
            BUNDLE_NAME: {
                "service": "bundle-server",
                "resource": resource,
                "persist": True,
                "polling": {"min_delay_seconds": min_delay, "max_delay_seconds": max_delay},
                "signing": {"keyid": keyid},
            }
        },
        "keys": {keyid: {"algorithm": algorithm, "key": public_key}},
        "persistence_directory": persistence_directory,
        "decision_logs": {"console": True},
    }
