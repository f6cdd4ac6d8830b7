"""Benchmark 8: a burst of spawn requests through a real JupyterHub with
quotas on vs off, both with PolicyKubeSpawner and the recorder in place of
Kubernetes (tests/e2e/recording.py).

"on": the books are kept (policy_quotas, the default: decisions one at a
time, each booked before the next) and the data sets quotas at every scope
(user, group, hub) that the burst stays within, so every request is judged
against all of them and granted. "off": policy_quotas = False and no quotas
in the data. Rounds alternate, so drift on this shared machine hits both.
Target: total time and p99 latency with quotas at most 1.10x without.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.burst import BODY, SPAWNERS, percentile, settle  # noqa: E402
from jhpolicy.local_opa import LocalOPA  # noqa: E402
from tests.e2e.hub import Hub  # noqa: E402

TARGET = 1.10
QUOTAS = {
    "users": {"servers": 1000, "cpu_limit": 4000},
    "hub": {"servers": 10000, "cpu_limit": 100000, "mem_limit": "100000G"},
    "groups": {"students": {"group": {"servers": 5000, "cpu_limit": 20000}, "member": {"servers": 1000}}},
}


def policies(folder: Path, quotas: dict | None) -> Path:
    for rego in (ROOT / "policies").glob("*.rego"):
        shutil.copy(rego, folder)
    data = json.loads((ROOT / "policies" / "data.json").read_text())
    data["jhpolicy"].pop("quotas", None)
    if quotas:
        data["jhpolicy"]["quotas"] = quotas
    (folder / "data.json").write_text(json.dumps(data))
    return folder


def one_round(kind: str, opa_url: str, n: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        env = {"E2E_POLICY_QUOTAS": "1" if kind == "quotas" else "0"}
        hub = Hub(Path(tmp), opa_url, spawner=SPAWNERS["policy"], env=env).start()
        try:
            requests = [(("alice", "sam")[i % 2], f"b{i}", BODY) for i in range(n)]
            start = time.monotonic()
            outcomes = asyncio.run(hub.burst(requests))
            answered = time.monotonic()
            ready = settle(hub, requests)
            statuses = [o["status"] for o in outcomes]
            assert all(s in (201, 202) for s in statuses), statuses
            return {"kind": kind, "answered_s": answered - start, "all_ready_s": ready - start,
                    "p50_s": percentile([o["seconds"] for o in outcomes], 0.5),
                    "p99_s": percentile([o["seconds"] for o in outcomes], 0.99)}
        finally:
            hub.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2, help="rounds per kind, alternating")
    args = parser.parse_args()
    ok = True
    with tempfile.TemporaryDirectory() as on_dir, tempfile.TemporaryDirectory() as off_dir, \
            LocalOPA([policies(Path(on_dir), QUOTAS)]) as on, LocalOPA([policies(Path(off_dir), None)]) as off:
        urls = {"quotas": on.url, "none": off.url}
        results = []
        for i in range(args.rounds):
            for kind in (("quotas", "none") if i % 2 == 0 else ("none", "quotas")):
                results.append(one_round(kind, urls[kind], args.requests))
                r = results[-1]
                print(f"round {i + 1} {kind:6}: answered {r['answered_s']:5.1f} s, all ready {r['all_ready_s']:5.1f} s, "
                      f"p50 {r['p50_s']:5.2f} s, p99 {r['p99_s']:5.2f} s")
    print(f"\nburst of {args.requests} spawn requests, quotas on vs off, median over {args.rounds} rounds each "
          f"(target <= {TARGET}x):")
    for metric, label in (("answered_s", "total time to answer all"), ("all_ready_s", "total time to all ready"),
                          ("p99_s", "p99 request latency"), ("p50_s", "p50 request latency")):
        with_quotas = statistics.median(r[metric] for r in results if r["kind"] == "quotas")
        without = statistics.median(r[metric] for r in results if r["kind"] == "none")
        ratio = with_quotas / without
        targeted = metric != "p50_s"
        met = ratio <= TARGET
        ok &= met or not targeted
        print(f"  {label:26} quotas {with_quotas:7.2f} s  none {without:7.2f} s  ratio {ratio:5.2f}x"
              + (f"  {'MET' if met else 'NOT MET'}" if targeted else ""))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
