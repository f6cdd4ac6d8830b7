"""The last check before the API server: does the built container carry
exactly the decided image and resources? Each case is a way a pod can come
out of KubeSpawner (or extra_container_config, or modify_pod_hook) different
from what the policy decided, and the line the admin reads about it."""

from __future__ import annotations

import pytest
from kubernetes_asyncio.client import V1Container, V1ResourceRequirements

from jhpolicy.core.pod import container_mismatches

DECIDED = {
    "image": "x/y:1",
    "cpu_limit": 2.0,
    "cpu_guarantee": 1.0,
    "mem_limit": 4 * 2**30,
    "mem_guarantee": 2 * 2**30,
    "extra_resource_limits": {"nvidia.com/gpu": 1},
    "extra_resource_guarantees": {"nvidia.com/gpu": 1},
}
LIMITS = {"cpu": "2", "memory": "4Gi", "nvidia.com/gpu": "1"}
REQUESTS = {"cpu": "1000m", "memory": 2 * 2**30, "nvidia.com/gpu": "1"}


def container(image="x/y:1", limits=None, requests=None, as_dict=False):
    limits = dict(LIMITS) if limits is None else limits
    requests = dict(REQUESTS) if requests is None else requests
    resources = (
        {"limits": limits, "requests": requests}
        if as_dict
        else V1ResourceRequirements(limits=limits, requests=requests)
    )
    return V1Container(name="notebook", image=image, resources=resources)


@pytest.mark.parametrize("as_dict", [False, True])
def test_the_decided_pod_passes(as_dict):
    assert container_mismatches(container(as_dict=as_dict), DECIDED) == []


@pytest.mark.parametrize(
    "changed, expected",
    [
        ({"image": "evil/miner:1"}, ["image 'evil/miner:1' is not the decided 'x/y:1'"]),
        ({"limits": {**LIMITS, "cpu": "64"}}, ["limits.cpu '64' is not the decided 2.0"]),
        ({"requests": {**REQUESTS, "memory": "3Gi"}}, ["requests.memory '3Gi' is not the decided 2147483648"]),
        ({"requests": {**REQUESTS, "nvidia.com/gpu": "2"}}, ["requests.nvidia.com/gpu '2' is not the decided 1"]),
        ({"limits": {**LIMITS, "nvidia.com/gpu": "2"}}, ["limits.nvidia.com/gpu '2' is not the decided 1"]),
        ({"limits": {**LIMITS, "example.com/fpga": "1"}}, ["limits.example.com/fpga '1' was not decided"]),
        ({"requests": {"cpu": "1", "memory": "2Gi"}}, ["requests.nvidia.com/gpu is missing (decided 1)"]),
        ({"limits": {"memory": "4Gi", "nvidia.com/gpu": "1"}}, ["limits.cpu is missing (decided 2.0)"]),
        ({"limits": {**LIMITS, "cpu": "lots"}}, ["limits.cpu 'lots' is not the decided 2.0"]),
        (
            {"image": "a/b", "limits": {**LIMITS, "cpu": "3"}, "requests": {**REQUESTS, "cpu": "3"}},
            [
                "image 'a/b' is not the decided 'x/y:1'",
                "limits.cpu '3' is not the decided 2.0",
                "requests.cpu '3' is not the decided 1.0",
            ],
        ),
    ],
)
def test_each_difference_is_named(changed, expected):
    assert container_mismatches(container(**changed), DECIDED) == expected


def test_unlimited_means_no_limit_in_the_pod():
    unlimited = {**DECIDED, "cpu_limit": None, "cpu_guarantee": None}
    assert container_mismatches(container(), unlimited) == [
        "limits.cpu '2' was not decided",
        "requests.cpu '1000m' was not decided",
    ]
    limits = {k: v for k, v in LIMITS.items() if k != "cpu"}
    requests = {k: v for k, v in REQUESTS.items() if k != "cpu"}
    assert container_mismatches(container(limits=limits, requests=requests), unlimited) == []


def test_resources_outside_the_ceiling_are_not_judged():
    # The admin narrowed policy_allowed_keys to the image: resources stay theirs.
    assert container_mismatches(container(), {"image": "x/y:1"}) == []
    assert container_mismatches(container(limits={**LIMITS, "ephemeral-storage": "1Gi"}), DECIDED) == []
    only_gpus = {"extra_resource_limits": {"nvidia.com/gpu": 1}}
    assert container_mismatches(container(), only_gpus) == []
    assert container_mismatches(container(limits={**LIMITS, "nvidia.com/gpu": "2"}), only_gpus) == [
        "limits.nvidia.com/gpu '2' is not the decided 1"
    ]
    assert container_mismatches(container(limits={**LIMITS, "example.com/fpga": "1"}), only_gpus) == [
        "limits.example.com/fpga '1' was not decided"
    ]


def test_quantities_compare_by_size_not_spelling():
    same = container(limits={"cpu": 2, "memory": str(4 * 2**30), "nvidia.com/gpu": 1}, requests={"cpu": "1", "memory": "2048Mi", "nvidia.com/gpu": "1"})
    assert container_mismatches(same, DECIDED) == []
    near = container(limits={**LIMITS, "cpu": "2001m"})
    assert container_mismatches(near, DECIDED) == ["limits.cpu '2001m' is not the decided 2.0"]
