"""A decision's work does not grow with data it does not read: the
deterministic half of benchmark 2 (bench/policy_scaling.py), on every change.

Benchmark 2 times decisions with a small and a large allowlist (10 vs 10,000
`image_repositories`) and a small and a large hub (10 vs 1,000 configured
groups), target at most 2x growth. It takes minutes and runs only in
`./dev bench`, so on 2026-12-06 a refusal that built the set of every listed
repository (8.8x slower with 10,000) went unseen for a day. Here the same
data and inputs are counted in what OPA's profiler counts (`opa eval --profile`): the
expressions evaluated, and evaluated again as a loop moves to the next value
(num_redo: the set of every listed repository was one expression evaluated
again for each). Neither depends on the machine: with a large allowlist, or
many groups, services or other groups' quotas, a decision evaluates exactly
as much as with a small one. (An expression's own cost can still grow, e.g.
a builtin reading a whole object; that is what benchmark 2's timing is for.)

Lists a decision does read grow its work with their length (BENCHMARKS.md,
session 24): the image globs and profile patterns of the user's allowances
(4-8 per pattern), the charge order (6-8 per group), the lifetime rules,
which the data checks read whole (31 per rule); and the spawn page's view,
which shows the user's repositories sorted and each lifetime rule. A hub has a handful of
each; an allowlist too long to scan belongs in image_repositories, looked up
by a decision, not scanned.
"""

from __future__ import annotations

import copy
import json

import pytest

from .helpers import bench

pytestmark = pytest.mark.opa  # it runs `opa eval`


scaling = bench.load("policy_scaling")  # benchmark 2's data and inputs
evaluation = bench.load("policy_eval")  # benchmark 11's
floor = bench.load("policy_floor")  # its profiler counts

SMALL, LARGE = 10, 2_000
THREE_GROUPS = ["students", "tas", "staff"]


def _with_services(n: int) -> dict:
    out = evaluation.data()
    out["jhpolicy"]["requesters"]["services"] = {f"service{i}": evaluation.entry(["**"]) for i in range(n)}
    return out


def _with_other_groups_quotas(n: int) -> dict:
    out = evaluation.data()
    out["jhpolicy"]["quotas"]["groups"].update({f"group{i}": {"member": {"servers": 1}} for i in range(n)})
    return out


STUDENT = evaluation.doc(["students"], evaluation.spawn(cpu=8))
GPU = evaluation.doc(["gpu-users"], evaluation.spawn("quay.io/jupyter/pytorch-notebook:cuda12", 4, 1), gpus_in_use=2)
A_SERVICE = evaluation.doc(["students"], evaluation.spawn(cpu=8), requester={"kind": "service", "name": "service3"})

CASES = {
    # benchmark 2: 10 vs 10,000 image_repositories (here 2,000) in one of the user's groups
    "allowlist, listed repository": (scaling.data_images, evaluation.DECISION,
                                     scaling.request(THREE_GROUPS, "registry5.example.org/team5/notebook:v1")),
    "allowlist, repository glob": (scaling.data_images, evaluation.DECISION,
                                   scaling.request(THREE_GROUPS, "quay.io/jupyter/r-notebook:2025")),
    "allowlist, not allowed": (scaling.data_images, evaluation.DECISION,
                               scaling.request(THREE_GROUPS, "docker.io/evil/miner:latest")),
    # benchmark 2: 10 vs 1,000 configured groups (here 2,000), user in 3
    "groups, allowed": (scaling.data_groups, evaluation.DECISION,
                        scaling.request(["group1", "group5", "group9"], "registry5.example.org/team5/notebook:v1")),
    "groups, not allowed": (scaling.data_groups, evaluation.DECISION,
                            scaling.request(["group1", "group5", "group9"], "docker.io/evil/miner:latest")),
    # services the request does not come from; quotas of groups the user is not in
    "services, a student": (_with_services, evaluation.DECISION, STUDENT),
    "services, a service's request": (_with_services, evaluation.DECISION, A_SERVICE),
    "other groups' quotas, a student": (_with_other_groups_quotas, evaluation.DECISION, STUDENT),
    "other groups' quotas, a GPU request": (_with_other_groups_quotas, evaluation.DECISION, GPU),
    "other groups' quotas, the spawn page's view": (_with_other_groups_quotas, evaluation.VIEW,
                                                    evaluation.view(["students", "gpu-users"], 4)),
}


@pytest.fixture(scope="module")
def rules(tmp_path_factory):
    return evaluation.policy_folder(tmp_path_factory.mktemp("cost"), None)


@pytest.mark.parametrize("case", list(CASES))
def test_a_decision_evaluates_as_much_with_large_data_it_does_not_read_as_with_small(case, rules, tmp_path):
    make, path, input_doc = CASES[case]
    counts = {}
    for n in (SMALL, LARGE):
        data_file = tmp_path / f"data-{n}.json"
        data_file.write_text(json.dumps(make(n)))
        counts[n] = floor.profile_counts(rules, data_file, copy.deepcopy(input_doc), path)
    assert counts[LARGE] == counts[SMALL], f"{case}: with {SMALL} {counts[SMALL]}, with {LARGE} {counts[LARGE]}"
