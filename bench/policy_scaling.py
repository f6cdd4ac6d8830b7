"""Benchmark 2: policy cost as the data grows.

OPA's own evaluation time (`?metrics=true`, `timer_rego_query_eval_ns`) for
the shipped policy with 10 vs 10,000 image patterns and 10 vs 1,000
configured groups, for a user in three groups. Target: at most 2x growth
from the small to the large case. Also prints `opa test --bench` for the
policy's tests.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jhpolicy.tooling.local_opa import LocalOPA  # noqa: E402
from jhpolicy.tooling.opa_binary import ensure_opa  # noqa: E402

TARGET = 2.0
# LocalOPA runs OPA as the sidecar does, with --optimize-store-for-read-speed:
# data is converted to Rego values once, at load, not at every evaluation.
OPA_FLAGS: list[str] = []
MAX = {"cpu_limit": 2, "cpu_guarantee": 1, "mem_limit": "4G", "mem_guarantee": "2G"}


def group(images: list[str], repositories: dict | None = None) -> dict:
    entry = {"images": images, "max": MAX, "profiles": ["small"]}
    if repositories is not None:
        entry["image_repositories"] = repositories
    return entry


# A realistic large allowlist: mostly literal repositories (any tag), plus two
# repository globs.
GLOBS = ["quay.io/jupyter/*-notebook:*", "registry.example.edu/courses/**"]


def repositories(n: int) -> dict:
    return {f"registry{i % 97}.example.org/team{i}/notebook": ["*"] for i in range(n - len(GLOBS))}


def data_images(n: int, as_globs: bool = False) -> dict:
    if as_globs:  # the same allowlist written as globs in `images` (scanned)
        students = group([f"{repo}:*" for repo in repositories(n)] + GLOBS)
    else:
        students = group(GLOBS, repositories(n))
    return {"jhpolicy": {"groups": {"students": students, "tas": group(["quay.io/jupyter/minimal-notebook:*"]),
                                    "staff": group(["quay.io/jupyter/scipy-notebook:*"])}}}


def data_groups(n: int) -> dict:
    groups = {f"group{i}": group([f"registry{i}.example.org/team{i}/notebook:*", "quay.io/jupyter/*-notebook:*"]) for i in range(n)}
    return {"jhpolicy": {"groups": groups}}


def request(groups: list[str], image: str) -> dict:
    overrides = {"image": image, "cpu_limit": 8}
    return {
        "version": 2,
        "user": {"name": "alice", "admin": False, "groups": groups},
        "requester": {"kind": "user", "name": "alice", "admin": False},
        "server": {"name": ""},
        "request": {"profile": None, "profile_options": {}, "overrides": overrides, "raw": overrides},
        "pod": {"image": image, "cpu_limit": 8, "cpu_guarantee": 8, "mem_limit": None, "mem_guarantee": None,
                "extra_resource_limits": {}, "extra_resource_guarantees": {}},
        "sources": {"image": "request", "cpu_limit": "request", "cpu_guarantee": "limit", "mem_limit": "config",
                    "mem_guarantee": "config", "extra_resource_limits": {}, "extra_resource_guarantees": {}},
    }


def eval_ns(data: dict, inputs: list[dict], queries: int) -> dict[str, float]:
    """Median eval time per input, in microseconds."""
    with tempfile.TemporaryDirectory() as tmp:
        for rego in (ROOT / "policies").glob("*.rego"):
            if not rego.stem.endswith("_test"):
                shutil.copy(rego, tmp)
        Path(tmp, "data.json").write_text(json.dumps(data))
        with LocalOPA([tmp], OPA_FLAGS) as opa, httpx.Client(base_url=opa.url, trust_env=False) as client:
            results = {"_rss_mib": rss_mib(opa.process.pid)}
            for label, doc in inputs:
                samples = []
                for _ in range(queries):
                    r = client.post("/v1/data/jupyterhub/spawn/decision?metrics=true", json={"input": doc})
                    samples.append(r.json()["metrics"]["timer_rego_query_eval_ns"] / 1000)
                results[label] = (statistics.median(samples[queries // 10:]), r.json()["result"]["allow"])
            results["_rss_mib"] = max(results["_rss_mib"], rss_mib(opa.process.pid))
            return results


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def compare(title: str, small_data: dict, large_data: dict, inputs: list, queries: int) -> bool:
    small, large = eval_ns(small_data, inputs, queries), eval_ns(large_data, inputs, queries)
    print(f"\n{title}")
    print(f"{'input':38} {'small µs':>9} {'large µs':>9} {'growth':>7}  allow")
    ok = True
    for label, _ in inputs:
        growth = large[label][0] / small[label][0]
        ok &= growth <= TARGET
        print(f"{label:38} {small[label][0]:9.1f} {large[label][0]:9.1f} {growth:6.2f}x  {large[label][1]}"
              f"  {'MET' if growth <= TARGET else 'NOT MET'}")
    print(f"OPA resident memory: small {small['_rss_mib']:.1f} MiB, large {large['_rss_mib']:.1f} MiB")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    print(f"policy evaluation time (median of {args.queries} queries, OPA's timer_rego_query_eval_ns); target growth <= {TARGET}x")
    groups = ["students", "tas", "staff"]
    image_inputs = [("listed repository, allowed", request(groups, "registry5.example.org/team5/notebook:v1")),
                    ("repository glob, allowed", request(groups, "quay.io/jupyter/r-notebook:2025")),
                    ("not allowed", request(groups, "docker.io/evil/miner:latest"))]
    ok = compare(
        "image allowlist: 10 vs 10,000 entries in one of the user's groups (image_repositories + 2 globs)",
        data_images(10), data_images(10_000), image_inputs, args.queries,
    )
    # Not a target: the same allowlist as 10,000 globs in `images` is scanned.
    compare(
        "for comparison, not targeted: the same allowlist as globs in `images` (scanned)",
        data_images(10, as_globs=True), data_images(10_000, as_globs=True), image_inputs, args.queries,
    )
    ok &= compare(
        "configured groups: 10 vs 1,000, user in 3",
        data_groups(10), data_groups(1000),
        [("allowed", request(["group1", "group5", "group7"], "registry5.example.org/team5/notebook:v1")),
         ("not allowed", request(["group1", "group5", "group7"], "docker.io/evil/miner:latest"))],
        args.queries,
    )
    print("\nopa test --bench policies (the policy's own tests):")
    out = subprocess.run([ensure_opa(), "test", "--bench", "--format=gobench", str(ROOT / "policies")],
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith("Benchmark"):
            name, n, ns = line.split()[:3]
            print(f"  {name.split('/')[-1]:60} {float(ns) / 1000:8.1f} µs/op")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
