"""Parsing what callers send, before any policy is asked."""

import math

import pytest

from jhpolicy.quantities import parse_cpu, parse_memory, InvalidValue
from jhpolicy.request import RequestError, parse_request

GIB = 1024**3

PROFILES = [
    {
        "slug": "small",
        "default": True,
        "kubespawner_override": {"cpu_limit": 0.5},
    },
    {
        "slug": "medium",
        "profile_options": {
            "image": {
                "choices": {
                    "scipy": {"kubespawner_override": {"image": "quay.io/jupyter/scipy-notebook:2025"}},
                    "r": {"kubespawner_override": {"image": "quay.io/jupyter/r-notebook:2025"}},
                },
                "unlisted_choice": {"enabled": False},
            }
        },
    },
]


@pytest.mark.parametrize(
    "value, expected",
    [
        (2 * GIB, 2 * GIB),
        ("2G", 2 * GIB),
        ("2Gi", 2 * GIB),
        ("512M", 512 * 1024**2),
        ("512Mi", 512 * 1024**2),
        ("1.5G", int(1.5 * GIB)),
        ("100", 100),
        (0, 0),
    ],
)
def test_memory_forms(value, expected):
    assert parse_memory("mem_limit", value) == expected


@pytest.mark.parametrize(
    "value", [-1, "2GB", "lots", "", None, True, [1], {"G": 2}, math.nan, math.inf, "1.5", 2.5, "-1G", 2**70]
)
def test_memory_rejects(value):
    with pytest.raises(InvalidValue) as e:
        parse_memory("mem_limit", value)
    assert str(e.value).startswith("mem_limit: ")
    assert '"2Gi"' in str(e.value)  # names the accepted forms


@pytest.mark.parametrize("value, expected", [(2, 2.0), (0.5, 0.5), ("2", 2.0), ("500m", 0.5), ("1.5", 1.5)])
def test_cpu_forms(value, expected):
    assert parse_cpu("cpu_limit", value) == expected


@pytest.mark.parametrize("value", [-0.5, "lots", "", None, False, math.nan, -math.inf, "2 cores", "0x10", 1e9])
def test_cpu_rejects(value):
    with pytest.raises(InvalidValue, match=r"^cpu_limit: .*millicores"):
        parse_cpu("cpu_limit", value)


def test_forum_request_shape():
    r = parse_request({"kubespawner_override": {"image": "jupyterhub/k8s-singleuser-sample:0.8.4"}}, [])
    assert r.overrides == {"image": "jupyterhub/k8s-singleuser-sample:0.8.4"}
    assert r.raw == {"image": "jupyterhub/k8s-singleuser-sample:0.8.4"}
    assert r.profile is None


def test_top_level_keys_are_overrides_too():
    r = parse_request({"image": "a/b:1", "cpu_limit": "500m", "mem_limit": "2Gi"}, [])
    assert r.overrides == {"image": "a/b:1", "cpu_limit": 0.5, "mem_limit": 2 * GIB}
    assert r.raw == {"image": "a/b:1", "cpu_limit": "500m", "mem_limit": "2Gi"}


def test_unknown_keys_reach_the_policy_unchanged():
    r = parse_request({"privileged": True, "kubespawner_override": {"uid": 0}}, [])
    assert r.overrides == {"privileged": True, "uid": 0}


def test_same_key_twice_with_different_values_is_refused():
    with pytest.raises(RequestError, match="given twice"):
        parse_request({"cpu_limit": 1, "kubespawner_override": {"cpu_limit": 2}}, [])


def test_profile_option_keys_go_to_kubespawner_not_the_policy():
    r = parse_request({"profile": "medium", "image": "r", "mem_limit": "4G"}, PROFILES)
    assert r.profile == "medium"
    assert r.profile_options == {"image": "r"}
    assert r.overrides == {"mem_limit": 4 * GIB}


def test_key_named_like_an_option_of_another_profile_is_an_override():
    # "image" is an option of "medium" only; with the default profile it is an override.
    r = parse_request({"image": "quay.io/x/y:1"}, PROFILES)
    assert r.overrides == {"image": "quay.io/x/y:1"}


def test_extra_resources_normalised_for_the_policy():
    r = parse_request({"extra_resource_limits": {"nvidia.com/gpu": "2", "example.com/fpga": 1}}, [])
    assert r.normalised() == {"extra_resource_limits": {"nvidia.com/gpu": 2, "example.com/fpga": 1}}


@pytest.mark.parametrize(
    "body, fragment",
    [
        ({"extra_resource_limits": {"nvidia.com/gpu": None}}, "null would remove a configured resource"),
        ({"extra_resource_limits": {"nvidia.com/gpu": -1}}, "not negative"),
        ({"extra_resource_limits": ["nvidia.com/gpu"]}, "a map of resource name"),
        ({"extra_resource_limits": {"bad name!": 1}}, "not a resource name"),
        ({"image": ""}, "image: '' is not valid"),
        ({"image": "a b"}, "no whitespace"),
        ({"image": 7}, "image: 7 is not valid"),
        ({"profile": 3}, "profile: must be a profile slug"),
        ({"profile": "huge"}, "no such profile 'huge'; choose one of: small, medium"),
        ({"kubespawner_override": "image=x"}, "kubespawner_override: must be a JSON object"),
        ({"mem_limit": float("nan")}, "mem_limit: nan is not valid"),
        ({"anything": float("inf")}, "anything: inf is not a finite number"),
        ({"profile": "medium", "image": 3}, "a profile option's choice must be a string"),
    ],
)
def test_malformed_requests_name_the_key(body, fragment):
    with pytest.raises(RequestError) as e:
        parse_request(body, PROFILES)
    assert fragment in str(e.value)


def test_profile_without_profile_list_is_refused():
    with pytest.raises(RequestError, match="this hub has no profiles"):
        parse_request({"profile": "small"}, [])


def test_non_object_user_options_refused():
    with pytest.raises(RequestError):
        parse_request(["image"], [])
