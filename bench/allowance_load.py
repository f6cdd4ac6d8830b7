"""Benchmark 9: the spawn page (with the allowance panel) and the allowance
endpoint under 100 concurrent users, against the same hub without jhpolicy.

Two real JupyterHubs in turn, the recorder in place of Kubernetes
(tests/e2e/recording.py), 100 users (a third in students, a third in
gpu-users, a third in no group), each with an API token:

- page: each user GETs their spawn page (/hub/spawn/{user}/p), all 100 at
  once. With jhpolicy: KubeSpawner's profile form cut to what the user may
  pick, plus the allowance panel (one OPA query: the view, which judges
  each profile and choice the page offers).
  Without: plain KubeSpawner's form, same profile_list.
- endpoint: each user GETs their allowance (/hub/api/jhpolicy/allowance),
  all at once. Without jhpolicy there is no such endpoint: the baseline is
  the hub's nearest one, GET /hub/api/users/{user} (the user's own model).

Three hubs: jhpolicy as shipped (a view kept 10 s for the same input,
policy_view_cache_seconds, so after the warm-up wave the pages and the
endpoint show kept views), jhpolicy asking OPA for every view (`uncached`,
what each user's first page costs), and plain KubeSpawner.
Each round starts with the next hub. Printed: the time for all 100 to be
answered, when the first was, the p50/p99 latency per request, and the
ratios. Target for both: at most 1.5x the hub without jhpolicy at p50 and
in total.
Beside them, where the time goes: the CPU the hub process (its event loop
and jhpolicy's OPA threads) and OPA used per wave (Linux /proc).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jhpolicy.tooling.local_opa import LocalOPA  # noqa: E402
from tests.e2e.hub import Hub  # noqa: E402
from tests.helpers.policies import assemble_policies  # noqa: E402

POLICIES = assemble_policies()

TARGET = 1.5
USERS = [f"u{i:03d}" for i in range(100)]
GROUPS = {0: ("students",), 1: ("gpu-users",), 2: ()}
# Each hub measured: its spawner, and its environment for tests/e2e/jupyterhub_config.py.
# "jhpolicy" is as shipped: a view is kept 10 s for the same input
# (policy_view_cache_seconds), so after the warm-up wave every page and
# endpoint call of a wave shows a kept view. "uncached" asks OPA every time,
# as the first page of each user does.
HUBS = {
    "jhpolicy": ("tests.e2e.recording.RecordingPolicyKubeSpawner", {}),
    "uncached": ("tests.e2e.recording.RecordingPolicyKubeSpawner", {"E2E_VIEW_CACHE_SECONDS": "0"}),
    "plain": ("tests.e2e.recording.RecordingKubeSpawner", {}),
}


def cpu_ms(pid: int) -> float:
    """CPU time (user + system) a process has used so far, in ms; NaN where /proc cannot say."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def log_in(hub: Hub, user: str) -> httpx.AsyncClient:
    """A browser-like session: the spawn page takes the login cookie, not a token."""
    client = httpx.AsyncClient(base_url=hub.url, timeout=120, trust_env=False)
    page = await client.get("/hub/login")
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text).group(1)
    r = await client.post("/hub/login", data={"username": user, "password": "any", "_xsrf": xsrf})
    assert r.status_code == 302, (user, r.status_code, r.text[:300])
    return client


async def all_at_once(sessions: dict[str, httpx.AsyncClient], paths: dict[str, str], tokens: dict | None = None,
                      pids: dict[str, int] | None = None) -> dict:
    """GET each user's path in their session (with their token, if given),
    all at once; with `pids`, the CPU each of those processes used meanwhile."""
    async def one(user, path):
        headers = {"Authorization": f"token {tokens[user]}"} if tokens else {}
        start = time.perf_counter()
        r = await sessions[user].get(path, headers=headers)
        assert r.status_code == 200, (path, r.status_code, r.headers.get("location"), r.text[:300])
        return time.perf_counter() - start, r.text

    pids = pids or {}
    cpu_before = {name: cpu_ms(pid) for name, pid in pids.items()}
    start = time.perf_counter()
    results = await asyncio.gather(*(one(u, p) for u, p in paths.items()))
    total = time.perf_counter() - start
    cpu = {f"cpu_{name}": (cpu_ms(pid) - cpu_before[name]) / 1000 for name, pid in pids.items()}
    latencies = [t for t, _ in results]
    return {"total": total, "first": min(latencies), "p50": percentile(latencies, 0.5), "p99": percentile(latencies, 0.99),
            **cpu, "bodies": [b for _, b in results]}


async def waves(hub: Hub, kind: str, repeats: int, pids: dict[str, int]) -> tuple[list[dict], list[dict]]:
    sessions = dict(zip(USERS, await asyncio.gather(*(log_in(hub, u) for u in USERS))))
    try:
        pages = {u: f"/hub/spawn/{u}/p" for u in USERS}
        api = {u: (f"/hub/api/users/{u}" if kind == "plain" else "/hub/api/jhpolicy/allowance") for u in USERS}
        await all_at_once(sessions, pages)  # warm: templates, connections, OPA's first queries
        page_runs = [await all_at_once(sessions, pages, pids=pids) for _ in range(repeats)]
        api_runs = [await all_at_once(sessions, api, hub.tokens, pids=pids) for _ in range(repeats)]
        return page_runs, api_runs
    finally:
        await asyncio.gather(*(c.aclose() for c in sessions.values()))


def one_round(kind: str, opa: LocalOPA, repeats: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        spawner, env = HUBS[kind]
        hub = Hub(Path(tmp), opa.url, spawner=spawner, env=env).start()
        try:
            for i, user in enumerate(USERS):
                hub.add_user(user, GROUPS[i % 3])
            pids = {"hub": hub.process.pid, "opa": opa.process.pid}
            page_runs, api_runs = asyncio.run(waves(hub, kind, repeats, pids))
            if kind != "plain":
                assert all("What you may launch" in b for b in page_runs[-1]["bodies"])
                assert all('"available": true' in b for b in api_runs[-1]["bodies"])
            return {"kind": kind, "page": page_runs, "api": api_runs}
        finally:
            hub.stop()


def median_of(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="rounds per hub, alternating which goes first")
    parser.add_argument("--repeats", type=int, default=5, help="waves of 100 requests per round")
    args = parser.parse_args()
    opa = LocalOPA([POLICIES]).start()
    try:
        results = {kind: [] for kind in HUBS}
        order = list(HUBS)
        for i in range(args.rounds):
            for kind in order[i % len(order):] + order[:i % len(order)]:  # each round starts with the next hub
                results[kind].append(one_round(kind, opa, args.repeats))
    finally:
        opa.stop()
    ok = True
    for what, label in (("page", "spawn page (panel + form)"), ("api", "allowance endpoint vs GET /hub/api/users/{name}")):
        print(f"\n{label}: 100 users at once, median over {args.rounds} rounds x {args.repeats} waves")
        figures = {}
        for kind in HUBS:
            runs = [run for r in results[kind] for run in r[what]]
            figures[kind] = {key: median_of(runs, key) for key in ("total", "first", "p50", "p99", "cpu_hub", "cpu_opa")}
            f = figures[kind]
            print(f"  {kind:8s} all answered in {f['total'] * 1000:7.1f} ms   first {f['first'] * 1000:6.1f} ms   "
                  f"p50 {f['p50'] * 1000:7.1f} ms   p99 {f['p99'] * 1000:7.1f} ms   "
                  f"CPU: hub {f['cpu_hub'] * 1000:5.0f} ms, OPA {f['cpu_opa'] * 1000:5.0f} ms")
        for kind in ("jhpolicy", "uncached"):
            ratios = {key: figures[kind][key] / figures["plain"][key] for key in ("total", "p50", "p99")}
            met = ratios["p50"] <= TARGET and ratios["total"] <= TARGET
            ok &= met
            print(f"  {kind + '/plain':17s} total {ratios['total']:.2f}x   p50 {ratios['p50']:.2f}x   p99 {ratios['p99']:.2f}x   "
                  f"(target p50 and total <= {TARGET}x: {'met' if met else 'NOT met'})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
