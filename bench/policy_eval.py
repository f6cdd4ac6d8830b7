"""Benchmark 11: the policy's own evaluation time, this checkout's against an earlier one's.

OPA's own evaluation time (`?metrics=true`, `timer_rego_query_eval_ns`) of
the shipped policy for a fixed set of inputs, against the policy of an
earlier commit taken from git (default: b3240e7, the landed main that issue
#31 measured), both served by `opa run` as the sidecar runs it, queried
interleaved (old, new, old, ...) so that machine drift hits both alike. Each
figure is the median of --queries queries after a tenth as warm-up.

Both policies get the same data (no key the older one does not know), so
both answer every input; the answers' `allow` must agree (exit 1 if not).
Issue #31's goal, 3x lower at every input, is printed with the figures but
not enforced by the exit status until the work to meet it has landed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jhpolicy.tooling.local_opa import LocalOPA  # noqa: E402

GOAL = 3.0
GPU = "nvidia.com/gpu"
SAMPLE = "quay.io/jupyterhub/k8s-singleuser-sample:4.1.0"
MAX = {"cpu_limit": 2, "cpu_guarantee": 1, "mem_limit": "4G", "mem_guarantee": "2G"}


def entry(images: list[str], **more) -> dict:
    return {"images": images, "max": MAX, **more}


def data(groups: int = 0, repositories: int = 0) -> dict:
    """The shipped data's shape: students, gpu-users with a GPU quota,
    staff, admins' allowance; plus `groups` generated groups, and
    `repositories` listed repositories for students."""
    entries = {
        "students": entry(["quay.io/jupyter/*-notebook:*", "quay.io/jupyterhub/k8s-singleuser-sample:*"], profiles=["*"]),
        "gpu-users": entry(["quay.io/jupyter/pytorch-notebook:cuda*"], max={**MAX, "cpu_limit": 8, "mem_limit": "32G"},
                           extra_resources={GPU: 1}, profiles=["*"]),
        "staff": entry(["**"], max={**MAX, "cpu_limit": 4, "mem_limit": "16G"}, profiles=["*"]),
    }
    if repositories:
        entries["students"]["image_repositories"] = {
            f"registry{i % 97}.example.org/team{i}/notebook": ["*"] for i in range(repositories)}
    for i in range(groups):
        entries[f"group{i}"] = entry([f"registry{i}.example.org/team{i}/notebook:*"])
    return {"jhpolicy": {
        "groups": entries,
        "requesters": {"admins": entry(["**"], max={**MAX, "cpu_limit": 16, "mem_limit": "64G"}, extra_resources={GPU: 4})},
        "quotas": {"charge_order": ["gpu-users"], "groups": {"gpu-users": {"group": {"extra_resources": {GPU: 4}}}}},
    }}


def spawn(image=SAMPLE, cpu=None, gpus=0, profile=None, options=None) -> dict:
    overrides = {"image": image, **({"cpu_limit": cpu} if cpu is not None else {}),
                 **({"extra_resource_limits": {GPU: gpus}} if gpus else {})}
    return {
        "request": {"profile": profile, "profile_named": profile is not None, "profile_options": options or {},
                    "overrides": overrides, "raw": dict(overrides)},
        "pod": {"image": image, "cpu_limit": cpu if cpu is not None else 0.5, "cpu_guarantee": cpu if cpu is not None else 0.5,
                "mem_limit": 2**30, "mem_guarantee": 2**30,
                "extra_resource_limits": {GPU: gpus} if gpus else {}, "extra_resource_guarantees": {GPU: gpus} if gpus else {}},
        "sources": {"image": "request", "cpu_limit": "request" if cpu is not None else "config", "cpu_guarantee": "limit",
                    "mem_limit": "config", "mem_guarantee": "config",
                    "extra_resource_limits": {GPU: "request"} if gpus else {},
                    "extra_resource_guarantees": {GPU: "limit"} if gpus else {}},
    }


def usage(groups: list[str], gpus_in_use: int = 0) -> dict:
    zero = {"servers": 0, "cpu_limit": 0, "cpu_guarantee": 0, "mem_limit": 0, "mem_guarantee": 0, "extra_resources": {}}
    held = {**zero, "servers": 1 if gpus_in_use else 0, "extra_resources": {GPU: gpus_in_use} if gpus_in_use else {}}
    names = [*groups, "default"]
    return {"user": held, "user_by_group": {g: zero for g in names}, "groups": {g: held if g == "gpu-users" else zero for g in names},
            "hub": held}


def doc(groups: list[str], this: dict, user="alice", requester=None, admin=False, with_usage=True, gpus_in_use=0) -> dict:
    requester = requester or {"kind": "user", "name": user, "admin": admin}
    out = {"version": 2, "user": {"name": user, "admin": admin, "groups": groups}, "requester": requester,
           "groups": {g: {"properties": {}} for g in groups}, "server": {"name": ""}, **this}
    if with_usage:
        out["usage"] = usage(groups, gpus_in_use)
    return out


def view(groups: list[str], candidates: int) -> dict:
    """The allowance view's input: an empty request, and `candidates` spawns (profiles) to judge."""
    images = [SAMPLE, "quay.io/jupyter/scipy-notebook:2025", "docker.io/evil/miner:1", "quay.io/jupyter/pytorch-notebook:cuda12"]
    return doc(groups, {**spawn(), "candidates": [spawn(image=images[i % 4], cpu=[1, 2, 4, 8][i % 4], gpus=i % 2,
                                                       profile=f"p{i}") for i in range(candidates)]})


DECISION, VIEW = "jupyterhub/spawn/decision", "jupyterhub/spawn/allowance_view"
INPUTS = [
    # (label, data variant, path, input)
    ("a student clamped (8 CPUs asked)", "base", DECISION, doc(["students"], spawn(cpu=8))),
    ("a GPU request under a quota", "base", DECISION, doc(["gpu-users"], spawn("quay.io/jupyter/pytorch-notebook:cuda12", 4, 1), gpus_in_use=2)),
    ("an admin for a user", "base", DECISION, doc(["students"], spawn(cpu=8), requester={"kind": "user", "name": "root", "admin": True})),
    ("a refused image", "base", DECISION, doc(["students"], spawn("docker.io/evil/miner:1"))),
    ("a user in 3 groups", "base", DECISION, doc(["students", "gpu-users", "staff"], spawn(cpu=8))),
    ("1,000 configured groups, user in 3", "groups", DECISION, doc(["students", "group7", "group500"], spawn(cpu=8))),
    ("a 10,000-entry allowlist", "allowlist", DECISION, doc(["students"], spawn("registry5.example.org/team5/notebook:v1"))),
    ("spawn-page view, 4 candidates", "base", VIEW, view(["students", "gpu-users"], 4)),
    ("spawn-page view, 16 candidates", "base", VIEW, view(["students", "gpu-users"], 16)),
]
DATA = {"base": lambda: data(), "groups": lambda: data(groups=1000), "allowlist": lambda: data(repositories=10_000)}


def policy_folder(tmp: Path, rev: str | None) -> Path:
    """The policy's .rego files (no tests, no data) of `rev`, or of the checkout."""
    folder = tmp / (rev or "checkout")
    folder.mkdir()
    if rev is None:
        for rego in (ROOT / "policies").glob("*.rego"):
            if not rego.stem.endswith("_test"):
                (folder / rego.name).write_text(rego.read_text())
        return folder
    names = subprocess.run(["git", "ls-tree", "--name-only", rev, "policies/"], cwd=ROOT, check=True,
                           capture_output=True, text=True).stdout.split()
    for name in names:
        if name.endswith(".rego") and not name.endswith("_test.rego"):
            text = subprocess.run(["git", "show", f"{rev}:{name}"], cwd=ROOT, check=True, capture_output=True, text=True).stdout
            (folder / Path(name).name).write_text(text)
    return folder


def measure(folders: dict[str, Path], queries: int, cases: list[tuple] = INPUTS,
            query_path=lambda name, path: path) -> list[tuple[str, str, dict, dict]]:
    """Each case's label, path, median evaluation time (µs) and last answer per policy
    folder, every policy served by its own `opa run` on the same data and
    queried in turn, the order rotating each round; query_path(name, path)
    is the path asked of that policy."""
    rows = []
    names = list(folders)
    for variant, make in DATA.items():
        chosen = [c for c in cases if c[1] == variant]
        if not chosen:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            data_file = Path(tmp) / "data.json"
            data_file.write_text(json.dumps(make()))
            with contextlib.ExitStack() as stack:
                servers = {name: stack.enter_context(LocalOPA([folders[name], data_file])) for name in names}
                client = stack.enter_context(httpx.Client(trust_env=False, timeout=30))
                for label, _, path, input_doc in chosen:
                    samples: dict = {name: [] for name in names}
                    answers = {}
                    body = json.dumps({"input": input_doc})
                    for i in range(queries):
                        for name in names[i % len(names):] + names[:i % len(names)]:
                            r = client.post(f"{servers[name].url}/v1/data/{query_path(name, path)}?metrics=true",
                                            content=body, headers={"Content-Type": "application/json"})
                            r.raise_for_status()
                            samples[name].append(r.json()["metrics"]["timer_rego_query_eval_ns"] / 1000)
                            answers[name] = r.json().get("result", {})
                    warm = queries // 10
                    rows.append((label, path, {k: statistics.median(v[warm:]) for k, v in samples.items()}, answers))
    return rows


def _allow(result: dict, path: str):
    if path == VIEW:
        return [c.get("allow") for c in result.get("candidates") or []]
    return result.get("allow")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", default="b3240e7", help="the git revision whose policy to compare with")
    parser.add_argument("--queries", type=int, default=400)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        old, new = policy_folder(Path(tmp), args.old), policy_folder(Path(tmp), None)
        rows = measure({"old": old, "new": new}, args.queries)
    print(f"policy evaluation time, µs (median of {args.queries} interleaved queries, OPA's timer_rego_query_eval_ns)")
    print(f"{'input':40} {args.old:>9} {'now':>9} {'lower by':>9}  same allow  allow")
    met = True
    agreed = True
    for label, path, medians, answers in rows:
        old_us, new_us = medians["old"], medians["new"]
        allow = _allow(answers["new"], path)
        agree = _allow(answers["old"], path) == allow
        agreed &= agree
        ratio = old_us / new_us
        met &= ratio >= GOAL
        print(f"{label:40} {old_us:9.1f} {new_us:9.1f} {ratio:8.2f}x  {'yes' if agree else 'NO':10}  {allow}")
    print(f"goal: at least {GOAL}x lower at every input: {'MET' if met else 'NOT MET'}")
    return 0 if agreed else 1


if __name__ == "__main__":
    sys.exit(main())
