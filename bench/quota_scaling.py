"""Benchmark 7: the decision path with 5,000 active servers in the books vs none.

Two hubs' worth of real PolicyKubeSpawner objects (no cluster) against one
OPA with the shipped policies: one hub's books are empty, the other's hold
5,000 servers of 1,000 users in 50 groups (the measured user's group among
them). Decisions alternate between the two, interleaved so machine drift
hits both. Target: p50 and p99 at most 1.1x. Also printed: the cost of one
booking and one release, the books' memory for 5,000 servers, and the scan
of 5,000 pods for ones no booking names (which a decision in a hub adds).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
import tracemalloc
from pathlib import Path

from traitlets.config import Config

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.decision_overhead import percentile  # noqa: E402
from jhpolicy.hub import ledger  # noqa: E402
from jhpolicy.tooling.local_opa import LocalOPA  # noqa: E402
from jhpolicy.tooling.offline import OfflineHub, OfflineUser, make_spawner  # noqa: E402

BODY = {"kubespawner_override": {"image": "jupyterhub/k8s-singleuser-sample:0.8.4", "cpu_limit": 2, "mem_limit": "2G"}}
TARGET = 1.1
GROUPS = ["students"] + [f"course-{i}" for i in range(49)]


def fill(book: ledger.Ledger, servers: int) -> None:
    for i in range(servers):
        pod = {"cpu_limit": 2.0, "cpu_guarantee": 0.5, "mem_limit": 2 * 2**30, "mem_guarantee": 2**30,
               "extra_resource_limits": {"nvidia.com/gpu": 1} if i % 10 == 0 else {}}
        book.hold(ledger.Holding.of_pod(f"user-{i % 1000}", f"s{i // 1000}", GROUPS[i % len(GROUPS)], pod,
                                        f"jhub/jupyter-user-{i % 1000}--s{i // 1000}"))


async def run(opa_url: str, servers: int, iterations: int, warmup: int) -> dict:
    config = Config()
    config.PolicyKubeSpawner.opa_url = opa_url
    spawners = {}
    for name, count in (("none", 0), (f"{servers}", servers)):
        hub = OfflineHub()
        fill(ledger.for_hub(hub), count)
        spawners[name] = make_spawner(config, OfflineUser("alice", groups=["students"]), BODY, hub=hub)
    times = {name: [] for name in spawners}
    names = list(spawners)
    for i in range(warmup + iterations):
        for name in (names if i % 2 else names[::-1]):
            spawner = spawners[name]
            spawner.user_options = BODY
            start = time.perf_counter()
            await spawner.load_user_options()
            elapsed = time.perf_counter() - start
            assert spawner.policy_outcome in ("allowed", "clamped"), spawner.policy_outcome
            if i >= warmup:
                times[name].append(elapsed)
    return times


def ledger_costs(servers: int) -> dict:
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    book = ledger.Ledger()
    fill(book, servers)
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    held = sum(s.size_diff for s in after.compare_to(before, "filename"))
    holding = ledger.Holding.of_pod("someone", "x", "students", {"cpu_limit": 1.0, "mem_limit": 2**30})
    start = time.perf_counter()
    for _ in range(10_000):
        book.hold(holding)
        book.release("someone", "x")
    per_pair = (time.perf_counter() - start) / 10_000
    start = time.perf_counter()
    for _ in range(10_000):
        book.usage("user-1", ["students", "course-1", "course-2"])
    usage_us = (time.perf_counter() - start) / 10_000 * 1e6
    # What a decision in a hub adds (jhpolicy.hub.reconcile): the scan of the pod
    # reflector for pods no booking names, here with every pod named.
    pods = {holding.pod: {"status": {"phase": "Running"}} for holding in book.holdings.values()}
    start = time.perf_counter()
    for _ in range(1_000):
        book.unnamed(pods)
    scan_us = (time.perf_counter() - start) / 1_000 * 1e6
    return {"bytes": held, "hold_release_us": per_pair * 1e6, "usage_us": usage_us, "scan_us": scan_us}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=5000)
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("urllib3").setLevel(logging.ERROR)
    with LocalOPA([ROOT / "policies"]) as opa:
        times = asyncio.run(run(opa.url, args.servers, args.iterations, args.warmup))
    print(f"decision path, books empty vs {args.servers} active servers, {args.iterations} decisions each, interleaved")
    print(f"{'':12} {'p50 ms':>8} {'p99 ms':>8}")
    for name, t in times.items():
        print(f"{name:12} {percentile(t, .5) * 1e3:8.3f} {percentile(t, .99) * 1e3:8.3f}")
    ok = True
    full, empty = times[str(args.servers)], times["none"]
    for q, label in ((.5, "p50"), (.99, "p99")):
        ratio = percentile(full, q) / percentile(empty, q)
        met = ratio <= TARGET
        ok &= met
        print(f"ratio {label}: {ratio:.2f}x (target <= {TARGET}x) {'MET' if met else 'NOT MET'}")
    costs = ledger_costs(args.servers)
    print(f"books for {args.servers} servers: {costs['bytes'] / 2**20:.1f} MiB; one booking + release "
          f"{costs['hold_release_us']:.1f} us; usage for a user in 3 groups {costs['usage_us']:.1f} us; "
          f"scan of {args.servers} pods for unbooked ones {costs['scan_us']:.1f} us")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
