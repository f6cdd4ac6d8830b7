"""Benchmark: what a shadow (candidate) decision path adds to a spawn's decision.

The spawner's decision path (load_user_options) in two passes, each
interleaving no shadow with one kind of shadow so that machine drift hits
both alike: a shadow that answers (the same policy, so every comparison
runs), and a shadow that hangs (a fault server that never answers; beyond
jhpolicy.hub.shadow.MAX_IN_FLIGHT unanswered queries a comparison is skipped). The spawn never waits for the shadow, so the target is
no added latency: p50 and p99 at most 1.05x those without a shadow.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import time
from pathlib import Path

from traitlets.config import Config

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.decision_overhead import BODY, percentile  # noqa: E402
from jhpolicy.tooling.local_opa import LocalOPA  # noqa: E402
from jhpolicy.tooling.offline import OfflineUser, make_spawner  # noqa: E402
from tests.helpers.faults import FaultServer  # noqa: E402

TARGET = 1.05


def spawner_for(opa_url: str, shadow_url: str | None):
    config = Config()
    config.PolicyKubeSpawner.opa_url = opa_url
    if shadow_url:
        config.PolicyKubeSpawner.opa_shadow_decision_path = "jupyterhub/spawn/decision"
        config.PolicyKubeSpawner.opa_shadow_url = shadow_url
        config.PolicyKubeSpawner.opa_timeout = 1.0  # hanging shadows end after 1 s
    return make_spawner(config, OfflineUser("alice", groups=["students"]), BODY)


async def run(opa_url: str, shadow_url: str, iterations: int, warmup: int) -> dict:
    """One pass: no shadow and the given shadow, interleaved (order alternating)."""
    spawners = {"no shadow": spawner_for(opa_url, None), "shadow": spawner_for(opa_url, shadow_url)}
    times = {name: [] for name in spawners}
    compared = skipped = 0
    for i in range(warmup + iterations):
        for name in (("no shadow", "shadow") if i % 2 else ("shadow", "no shadow")):
            spawner = spawners[name]
            spawner.user_options = BODY
            start = time.perf_counter()
            await spawner.load_user_options()
            elapsed = time.perf_counter() - start
            assert spawner.policy_outcome in ("clamped", "allowed")
            if i >= warmup:
                times[name].append(elapsed)
            if name == "shadow":
                compared += spawner.policy_shadow is not None
                skipped += spawner.policy_shadow is None
    times["_started"], times["_skipped"] = compared, skipped
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    with LocalOPA([ROOT / "policies"]) as opa:
        faults = FaultServer(opa.url).start()
        faults.set("hang")
        try:
            passes = {
                "shadow": asyncio.run(run(opa.url, opa.url, args.iterations, args.warmup)),
                "hung shadow": asyncio.run(run(opa.url, faults.url, args.iterations, args.warmup)),
            }
        finally:
            faults.set(None)
            faults.stop()
    print(f"shadow overhead, 2 passes of {args.iterations} spawn decisions per variant, interleaved (after {args.warmup} warm-up)")
    ok = True
    for label, times in passes.items():
        print(f"pass '{label}': candidate queries started {times.pop('_started')}, skipped (too many unanswered) {times.pop('_skipped')}")
        print(f"  {'':12} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
        for name, t in times.items():
            shown = label if name == "shadow" else name
            print(f"  {shown:12} {percentile(t, .5) * 1e3:8.3f} {percentile(t, .99) * 1e3:8.3f} {statistics.mean(t) * 1e3:8.3f}")
        for q, qlabel in ((.5, "p50"), (.99, "p99")):
            ratio = percentile(times["shadow"], q) / percentile(times["no shadow"], q)
            met = ratio <= TARGET
            ok &= met
            print(f"  {label} / no shadow {qlabel}: {ratio:.2f}x (target <= {TARGET}x) {'MET' if met else 'NOT MET'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
