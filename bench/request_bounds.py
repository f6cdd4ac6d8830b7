"""Benchmark 10: the largest request the bounds let through (issue #28 item 7).

The request limits (policy_max_request_bytes 64 KiB, policy_max_request_keys
64 keys and list items at every depth, strings of at most 1,024 characters)
bound what one decision can cost. This times whole decisions through the
spawner (load_user_options, the shipped policy, a warm local OPA) for a
typical request and for the worst ones that still pass each bound, and
reports OPA's own evaluation time (timer_rego_query_eval_ns) and the answer's
size. Target: the worst passing request's OPA time at most 10x the typical
one's (before the bounds, 3,300 extended resources took 132 ms against 23 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

import httpx
from traitlets.config import Config

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jhpolicy.core.request import RequestError, parse_request  # noqa: E402
from jhpolicy.tooling.local_opa import LocalOPA  # noqa: E402
from jhpolicy.tooling.offline import OfflineUser, make_spawner  # noqa: E402

TYPICAL = {"kubespawner_override": {"image": "jupyterhub/k8s-singleuser-sample:0.8.4", "cpu_limit": 8, "mem_limit": "8G"}}
REQUESTS = {
    "typical": TYPICAL,
    # 62 extended resources (63 entries with the map's own key): the most a map may hold.
    "62 extended resources": {"extra_resource_limits": {f"example.com/r{i:02d}": 1 for i in range(62)}},
    # 60 keys of 1,000 characters: about 60 KB, the most text that passes.
    "60 KB of text in 61 keys": {"kubespawner_override": {"image": "jupyterhub/k8s-singleuser-sample:0.8.4"}}
    | {f"note{i}": "x" * 1000 for i in range(60)},
}
REFUSED = {"3,300 extended resources (refused)": {"extra_resource_limits": {f"e.c/r{i}": 1 for i in range(3300)}}}
TARGET = 10.0


async def measure(opa_url: str, body: dict, repeats: int) -> dict:
    config = Config()
    config.PolicyKubeSpawner.opa_url = opa_url
    config.PolicyKubeSpawner.policy_quotas = False
    spawner = make_spawner(config, OfflineUser("alice", groups=["students"]), body)
    spawner.user_options = body
    try:
        await spawner.load_user_options()
    except Exception:  # noqa: BLE001  (a refusal is a decision too: the input is what is timed)
        pass
    payload = json.dumps({"input": spawner.policy_input}).encode()
    evals, walls, sizes = [], [], []
    async with httpx.AsyncClient(base_url=opa_url, trust_env=False, timeout=30) as client:
        for _ in range(repeats):
            started = time.perf_counter()
            r = await client.post("/v1/data/jupyterhub/spawn/decision?metrics=true", content=payload,
                                  headers={"Content-Type": "application/json"})
            walls.append((time.perf_counter() - started) * 1000)
            evals.append(r.json()["metrics"]["timer_rego_query_eval_ns"] / 1e6)
            sizes.append(len(r.content))
    return {"input_bytes": len(payload), "eval_ms": statistics.median(evals), "wall_ms": statistics.median(walls),
            "answer_bytes": sizes[-1]}


async def main_async(repeats: int) -> int:
    for name, body in REFUSED.items():
        try:
            parse_request(body, [], 64 * 1024, 64)
            print(f"{name}: NOT refused")
            return 1
        except RequestError as e:
            print(f"{name}: 400 before OPA is asked ({e})")
    with LocalOPA([ROOT / "policies"]) as opa:
        results = {name: await measure(opa.url, body, repeats) for name, body in REQUESTS.items()}
    typical = results["typical"]["eval_ms"]
    print(f"{'request':28} {'input':>8} {'OPA eval p50':>13} {'round trip p50':>15} {'answer':>8} {'vs typical':>10}")
    worst = 0.0
    for name, r in results.items():
        ratio = r["eval_ms"] / typical
        worst = max(worst, ratio)
        print(f"{name:28} {r['input_bytes']:>7}B {r['eval_ms']:>10.2f} ms {r['wall_ms']:>12.2f} ms "
              f"{r['answer_bytes']:>7}B {ratio:>9.1f}x")
    print(f"worst passing request: {worst:.1f}x the typical OPA time (target <= {TARGET:.0f}x): "
          f"{'met' if worst <= TARGET else 'NOT met'}")
    return 0 if worst <= TARGET else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    return asyncio.run(main_async(parser.parse_args().repeats))


if __name__ == "__main__":
    sys.exit(main())
