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

import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.burst import SPAWNERS, alternating_rounds, burst_args, none_failed_closed, one_round  # noqa: E402
from jhpolicy.tooling.local_opa import LocalOPA  # noqa: E402
from tests.helpers.policies import policies_with_quotas  # noqa: E402

TARGET = 1.10
QUOTAS = {
    "users": {"servers": 1000, "cpu_limit": 4000},
    "hub": {"servers": 10000, "cpu_limit": 100000, "mem_limit": "100000G"},
    "groups": {"students": {"group": {"servers": 5000, "cpu_limit": 20000}, "member": {"servers": 1000}}},
}


def main() -> int:
    args = burst_args(__doc__.splitlines()[0])
    ok = True
    with tempfile.TemporaryDirectory() as on_dir, tempfile.TemporaryDirectory() as off_dir, \
            LocalOPA([policies_with_quotas(Path(on_dir), QUOTAS)]) as on, \
            LocalOPA([policies_with_quotas(Path(off_dir), None)]) as off:
        urls = {"quotas": on.url, "none": off.url}

        def run_one(kind):
            env = {"E2E_POLICY_QUOTAS": "1" if kind == "quotas" else "0"}
            return one_round(kind, urls[kind], args.requests, spawner=SPAWNERS["policy"], env=env)

        results = alternating_rounds(("quotas", "none"), args.rounds, run_one)
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
    ok &= none_failed_closed(results, args.requests)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
