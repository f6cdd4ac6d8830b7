"""Same answers: the policy's decisions and views on a corpus of inputs,
this checkout's against an earlier one's (issue #31 item 6).

A refactoring of the Rego must not change an answer unless the change is a
fix named in the CHANGELOG. This draws a corpus (seeded, so the same corpus
every time; --record writes it, --corpus reads one back), asks both policies
(`opa run` each, the old one taken from git as bench/policy_eval.py takes it,
the same data for both) for every input, and compares the whole answers.
Differences are counted per field and the first few are shown in full.

    .venv/bin/python bench/policy_corpus.py --old b3240e7 [--size 3000] [--ignore lifetime] [--lifetimes] [--default-pool]

The corpus: users in 0-3 of the data's groups (and unknown ones), asking for
themselves or through an admin or a service, images allowed and not, CPU,
memory and GPUs below, at and above every maximum, usage near each quota, a
group's quota set by its JupyterHub property (well-formed or not), and
spawn-page views of 1-6 candidates. With --lifetimes, the same corpus on
data that sets server lifetimes (allowances', the GPU rule) and with some
groups' jhpolicy_lifetime property (well-formed or not), for revisions
that know lifetimes (b3240e7 does not). With --default-pool, the same
corpus on data with a default entry and a quota for the default pool, so
that users in no configured group are charged to it. Exit 1 when an answer
differs in a field not given to --ignore.
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from policy_eval import DECISION, GPU, SAMPLE, VIEW, data, doc, policy_folder, spawn  # noqa: E402

from jhpolicy.tooling.local_opa import LocalOPA  # noqa: E402

GROUPS = ["students", "gpu-users", "staff", "group7", "Students", "nobody"]
IMAGES = [SAMPLE, SAMPLE, SAMPLE, SAMPLE, "quay.io/jupyter/scipy-notebook:2025", "docker.io/evil/miner:1",
          "quay.io/jupyter/pytorch-notebook:cuda12",
          "quay.io/jupyter/pytorch-notebook:cpu", "registry7.example.org/team7/notebook:v1", "quay.io/jupyter/../evil:1"]
CPUS = [None, 0.1, 0.5, 1, 2, 2.001, 4, 8, 16, 17]
MEMORY = [None, 2**20, 2**30, 2 * 2**30, 4 * 2**30, 4 * 2**30 + 1, 16 * 2**30, 32 * 2**30, 64 * 2**30, 65 * 2**30]
GPUS = [0, 0, 0, 1, 2, 4, 5]
# Now and then an image drawn is pinned by a digest, after its tag or in its
# place (drawn apart, so the rest of the corpus stays as it is): a tag's
# wildcard must not reach into a digest (CHANGELOG, "Fixed (security)").
DIGEST = "@sha256:" + "0123456789abcdef" * 4
# A group's jhpolicy_quota as the spawner sends it (the admin page's text
# parsed as JSON), now and then malformed.
QUOTA_PROPERTIES = [None] * 30 + [{"member": {"servers": 1}}, {"group": {"extra_resources": {GPU: 2}}},
                                  {"member": {"cpu_limit": 2}}, "not json", {"member": {"servers": "two"}}]
# A group's jhpolicy_lifetime property, with --lifetimes.
LIFETIME_PROPERTIES = [None] * 12 + [{"idle": "3h"}, {"max_age": 7200}, {"idle": "30m", "max_age": "2d"}, "2h",
                                     {"idle": "soon"}]


def corpus(size: int, seed: int = 31, lifetimes: bool = False, default_pool: bool = False) -> list[dict]:
    """`size` queries ({"path", "data", "input"}), the same for the same seed;
    with `lifetimes`, the same queries on data with lifetimes (drawn apart,
    so the rest of the corpus stays as it is); with `default_pool`, on data
    with a default entry and a default pool's quota."""
    rng = random.Random(seed)
    lifetime_rng = random.Random(seed + 1)
    pool_rng = random.Random(seed + 2)
    digest_rng = random.Random(seed + 3)

    def image() -> str:
        drawn = rng.choice(IMAGES)
        pinned = digest_rng.choice([None] * 8 + ["after its tag", "in its place"])
        if pinned == "after its tag":
            return drawn + DIGEST
        return drawn.rsplit(":", 1)[0] + DIGEST if pinned else drawn

    out = []
    for _ in range(size):
        groups = rng.sample(GROUPS, rng.choice([0, 1, 1, 2, 3]))
        requester = rng.choice([None] * 8 + [{"kind": "user", "name": "root", "admin": True},
                                             {"kind": "service", "name": "orchestrator", "admin": False}])
        one = spawn(image=image(), cpu=rng.choice(CPUS), gpus=rng.choice(GPUS))
        memory = rng.choice(MEMORY)
        if memory is not None:
            one["pod"]["mem_limit"] = one["pod"]["mem_guarantee"] = memory
            one["request"]["overrides"]["mem_limit"] = one["request"]["raw"]["mem_limit"] = memory
            one["sources"]["mem_limit"], one["sources"]["mem_guarantee"] = "request", "limit"
        path = DECISION
        if rng.random() < 0.1:
            path = VIEW
            one["candidates"] = [spawn(image=image(), cpu=rng.choice(CPUS[1:]), gpus=rng.choice(GPUS),
                                       profile=f"p{i}") for i in range(rng.randint(1, 6))]
        input_doc = doc(groups, one, requester=requester, admin=rng.random() < 0.05, with_usage=rng.random() < 0.9,
                        gpus_in_use=rng.choice([0, 0, 1, 2, 3, 4]))
        for group in groups:
            quota = rng.choice(QUOTA_PROPERTIES)
            if quota is not None:
                input_doc["groups"][group]["properties"]["jhpolicy_quota"] = quota
            lifetime = lifetime_rng.choice(LIFETIME_PROPERTIES) if lifetimes else None
            if lifetime is not None:
                input_doc["groups"][group]["properties"]["jhpolicy_lifetime"] = lifetime
        variant = rng.choice(["base", "base", "base", "quotas"])
        if default_pool and "usage" in input_doc:
            # The default pool's server count, so its quota (1) is full now and then.
            pool = input_doc["usage"]["groups"]["default"]
            input_doc["usage"]["groups"]["default"] = {**pool, "servers": pool_rng.choice([0, 0, 1])}
        name = "+".join([variant] + ["lifetimes"] * lifetimes + ["default-pool"] * default_pool)
        out.append({"path": path, "data": name, "input": input_doc})
    return out


def make_data(name: str) -> dict:
    """The data a query names: "base" or "quotas", then each "+part" applied."""
    document = data()
    for part in name.split("+"):
        document = _CHANGES[part](document)
    return document


def _with_quotas(document: dict) -> dict:
    # User and hub quotas, so every scope binds somewhere.
    quotas = document["jhpolicy"]["quotas"]
    quotas["users"] = {"servers": 2, "cpu_limit": 8, "extra_resources": {GPU: 2}}
    quotas["hub"] = {"mem_limit": "64G", "extra_resources": {GPU: 4}}
    quotas["groups"]["students"] = {"member": {"servers": 1, "cpu_limit": 2}}
    return document


def _with_lifetimes(document: dict) -> dict:
    # Allowances' lifetimes (students, gpu-users, admins) and the GPU rule.
    jhpolicy = document["jhpolicy"]
    jhpolicy["groups"]["students"]["lifetime"] = {"idle": "2h", "max_age": "1d"}
    jhpolicy["groups"]["gpu-users"]["lifetime"] = {"idle": 21600}
    jhpolicy["requesters"]["admins"]["lifetime"] = {"idle": "12h"}
    jhpolicy["lifetimes"] = {"extra_resources": {GPU: {"idle": "1h", "max_age": "8h"}}}
    return document


def _with_default_pool(document: dict) -> dict:
    # A default entry, and a quota for the default pool below its maxima, so
    # that it lowers (and refuses where the corpus fills its one server).
    jhpolicy = document["jhpolicy"]
    jhpolicy["groups"]["default"] = {"images": [SAMPLE], "max": {"cpu_limit": 1, "mem_limit": "2G"}}
    jhpolicy["quotas"]["groups"]["default"] = {"group": {"servers": 1, "cpu_limit": 0.5}, "member": {"mem_limit": "1G"}}
    return document


_CHANGES = {"base": lambda d: d, "quotas": _with_quotas, "lifetimes": _with_lifetimes, "default-pool": _with_default_pool}


def candidate_decisions(queries: list[dict]) -> list[dict]:
    """Each spawn-page candidate of the corpus's views as a decision query of
    its own: the view's input with the candidate's request, pod and sources."""
    out = []
    for query in queries:
        if query["path"] == VIEW:
            base = {k: v for k, v in query["input"].items() if k != "candidates"}
            out += [{"path": DECISION, "data": query["data"], "input": {**base, **candidate}}
                    for candidate in query["input"]["candidates"]]
    return out


def answers(folder: Path, queries: list[dict]) -> list[object]:
    results: list[object] = [None] * len(queries)
    for variant in sorted({query["data"] for query in queries}):
        with tempfile.TemporaryDirectory() as tmp:
            data_file = Path(tmp) / "data.json"
            data_file.write_text(json.dumps(make_data(variant)))
            with LocalOPA([folder, data_file]) as opa, httpx.Client(base_url=opa.url, trust_env=False, timeout=60) as client:
                for i, query in enumerate(queries):
                    if query["data"] == variant:
                        r = client.post(f"/v1/data/{query['path']}", json={"input": query["input"]})
                        r.raise_for_status()
                        results[i] = r.json().get("result")
    return results


def judged_against_decisions(folder: Path, queries: list[dict]) -> tuple[list, list, int]:
    """The policy's answers to `queries`, and each candidate a view judged
    whose judgement is not its decision's (the same policy, the view's input
    with the candidate's spawn): (answers, [(query, judged allow, decision)],
    how many candidates were judged). A view that is not available judges none."""
    candidates = candidate_decisions(queries)
    everything = answers(folder, queries + candidates)
    own_answers, decided = everything[: len(queries)], iter(zip(candidates, everything[len(queries):]))
    disagree, judged = [], 0
    for query, answer in zip(queries, own_answers):
        if query["path"] != VIEW:
            continue
        own = [next(decided) for _ in query["input"]["candidates"]]
        judgements = (answer or {}).get("candidates")
        if judgements is None:
            continue
        judged += len(own)
        disagree += [(c, j["allow"], d) for (c, d), j in zip(own, judgements, strict=True)
                     if j["allow"] != (d or {}).get("allow")]
    return own_answers, disagree, judged


def differing_fields(old: object, new: object, ignore: set[str]) -> list[str]:
    if not isinstance(old, dict) or not isinstance(new, dict):
        return [] if old == new else ["(the whole answer)"]
    return sorted(k for k in old.keys() | new.keys() if k not in ignore and old.get(k) != new.get(k))


def _outcome(answer: object) -> str:
    if not isinstance(answer, dict) or "allow" not in answer:
        return "undefined"
    if answer["allow"]:
        return "lowered" if answer.get("overrides") else "allowed"
    return f"refused ({answer.get('reason') or 'no reason'})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", default="b3240e7", help="the git revision whose policy to compare with")
    parser.add_argument("--size", type=int, default=3000, help="how many queries to draw")
    parser.add_argument("--corpus", help="read the corpus from this JSON file instead of drawing it")
    parser.add_argument("--record", help="also write the corpus to this JSON file")
    parser.add_argument("--ignore", action="append", default=[], help="a field of the answers not to compare (repeat)")
    parser.add_argument("--show", type=int, default=3, help="how many differing answers to show in full")
    parser.add_argument("--lifetimes", action="store_true",
                        help="the same corpus on data with lifetimes, and some groups' jhpolicy_lifetime property")
    parser.add_argument("--default-pool", action="store_true",
                        help="the same corpus on data with a default entry and a quota for the default pool")
    args = parser.parse_args()
    queries = (json.loads(Path(args.corpus).read_text()) if args.corpus
               else corpus(args.size, lifetimes=args.lifetimes, default_pool=args.default_pool))
    if args.record:
        Path(args.record).write_text(json.dumps(queries))
    with tempfile.TemporaryDirectory() as tmp:
        old_answers = answers(policy_folder(Path(tmp), args.old), queries)
        new_answers, disagree, judged_count = judged_against_decisions(policy_folder(Path(tmp), None), queries)
    per_field: collections.Counter = collections.Counter()
    differing = []
    for query, old, new in zip(queries, old_answers, new_answers):
        fields = differing_fields(old, new, set(args.ignore))
        per_field.update(fields)
        if fields:
            differing.append((query, old, new, fields))
    paths = collections.Counter(q["path"] for q in queries)
    outcomes = collections.Counter(_outcome(a) for q, a in zip(queries, new_answers) if q["path"] == DECISION)
    print(f"{len(queries)} queries ({', '.join(f'{n} {p}' for p, n in sorted(paths.items()))}); "
          f"ignored fields: {', '.join(args.ignore) or 'none'}")
    print(f"decisions now: {', '.join(f'{n} {o}' for o, n in outcomes.most_common())}")
    print(f"spawn-page candidates whose view's allow is not their decision's: {len(disagree)} of {judged_count} judged")
    print(f"answers that differ from {args.old}'s: {len(differing)}")
    for field, n in per_field.most_common():
        print(f"  {field}: {n}")
    for query, old, new, fields in differing[: args.show]:
        print(json.dumps({"fields": fields, "input": query["input"], "data": query["data"],
                          "old": {k: (old or {}).get(k) for k in fields} if isinstance(old, dict) else old,
                          "new": {k: (new or {}).get(k) for k in fields} if isinstance(new, dict) else new}, indent=1))
    for candidate, judged_allow, decision in disagree[: args.show]:
        print(json.dumps({"view says": judged_allow, "decision": decision, "input": candidate["input"]}, indent=1))
    return 1 if differing or disagree else 0


if __name__ == "__main__":
    sys.exit(main())
