"""Benchmark: how long a new bundle revision takes to reach every hub.

Debian's nginx serves signed bundles on loopback; two OPA sidecars, run with
the Helm variant's arguments and the documented polling settings
(jhpolicy.tooling.bundle.MIN_DELAY..MAX_DELAY seconds), poll it. Each round
publishes the other revision and measures, per hub, the time until its
decisions follow the new revision (polled every 50 ms by a direct query).
Target: every hub within MAX_DELAY seconds plus one download (+1 s).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jhpolicy.tooling import bundle  # noqa: E402
from jhpolicy.tooling.configmap import policy_files  # noqa: E402
from jhpolicy.tooling.opa_binary import ensure_opa  # noqa: E402
from tests.helpers.bundle_server import BundleServer  # noqa: E402
from tests.helpers.bundles import KEYID, Hub  # noqa: E402
from tests.helpers.helm import INPUT  # noqa: E402  (students ask for 8 CPUs)


def keypair(folder: Path) -> tuple[Path, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = folder / "key.pem"
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public.decode()


def revisions(folder: Path, opa: str, private: Path) -> dict[float, Path]:
    """Bundles whose students' CPU maximum is 2 and 3, keyed by that maximum."""
    made = {}
    for cpu in (2, 3):
        src = folder / f"policies-{cpu}"
        src.mkdir()
        for name, text in policy_files(ROOT / "policies").items():
            if name == "data.json":
                data = json.loads(text)
                data["jhpolicy"]["groups"]["students"]["max"]["cpu_limit"] = cpu
                text = json.dumps(data)
            (src / name).write_text(text)
        made[float(cpu)] = bundle.build(opa, src, folder / f"cpu{cpu}.tar.gz", signing_key=private, keyid=KEYID,
                                        revision=f"cpu{cpu}")
    return made


def decided_cpu(hub: Hub) -> float | None:
    r = httpx.post(f"{hub.url}/v1/data/jupyterhub/spawn/decision", json={"input": INPUT}, trust_env=False)
    return r.json().get("result", {}).get("overrides", {}).get("cpu_limit")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    opa = str(Path(ensure_opa()).resolve())
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        private, public = keypair(tmp)
        made = revisions(tmp, opa, private)
        server = BundleServer(tmp / "nginx")
        server.publish(made[2.0], bundle.RESOURCE)
        server.start()
        hubs = [Hub(n, server, public, tmp, bundle.MIN_DELAY, bundle.MAX_DELAY) for n in ("hub-a", "hub-b")]
        try:
            for hub in hubs:
                hub.start()
            deadline = time.monotonic() + 120
            while not all(decided_cpu(h) == 2.0 for h in hubs):
                assert time.monotonic() < deadline, "the first revision never activated"
                time.sleep(0.05)
            times = []
            current = 2.0
            for _ in range(args.rounds):
                current = 3.0 if current == 2.0 else 2.0
                server.publish(made[current], bundle.RESOURCE)
                published = time.monotonic()
                pending = set(range(len(hubs)))
                while pending:
                    for i in list(pending):
                        if decided_cpu(hubs[i]) == current:
                            times.append(time.monotonic() - published)
                            pending.discard(i)
                    assert time.monotonic() - published < 120, "a revision never arrived"
                    time.sleep(0.05)
        finally:
            for hub in hubs:
                hub.stop()
            server.stop()
    target = bundle.MAX_DELAY + 1
    worst = max(times)
    print(f"bundle rollout, polling {bundle.MIN_DELAY}-{bundle.MAX_DELAY} s, 2 hubs x {args.rounds} revisions: "
          f"min {min(times):.1f} s, median {statistics.median(times):.1f} s, max {worst:.1f} s "
          f"(target <= {target} s: {'met' if worst <= target else 'NOT met'})")
    return 0 if worst <= target else 1


if __name__ == "__main__":
    sys.exit(main())
