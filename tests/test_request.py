"""Parsing what callers send, before any policy is asked."""

import math
import re

import pytest

from jhpolicy.core.quantities import InvalidValue, parse_cpu, parse_memory
from jhpolicy.core.request import RequestError, parse_request

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
        ("0.5K", 512),
        (10**18, 10**18),
    ],
)
def test_memory_forms(value, expected):
    assert parse_memory("mem_limit", value) == expected


@pytest.mark.parametrize(
    "value",
    [-1, "2GB", "lots", "", None, True, [1], {"G": 2}, math.nan, math.inf, "1.5", 2.5, "-1G", 2**70, 10**400,
     "9" * 400, "1" * 31 + "G", 0, -0.0, "0", "0G", "0.0Mi", "0.0001"],
)
def test_memory_rejects(value):
    with pytest.raises(InvalidValue) as e:
        parse_memory("mem_limit", value)
    assert str(e.value).startswith("mem_limit: ")
    assert '"2Gi"' in str(e.value)  # names the accepted forms


@pytest.mark.parametrize("value, expected", [(2, 2.0), (0.5, 0.5), ("2", 2.0), ("500m", 0.5), ("1.5", 1.5)])
def test_cpu_forms(value, expected):
    assert parse_cpu("cpu_limit", value) == expected


@pytest.mark.parametrize(
    "value",
    [-0.5, "lots", "", None, False, math.nan, -math.inf, "2 cores", "0x10", 1e9, 10**400, -(10**400), "9" * 400,
     1e308, 0, -0.0, "0", "0m", "0.0", "0.5m", 0.0001],
)
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
    assert r.overrides == {"extra_resource_limits": {"nvidia.com/gpu": 2, "example.com/fpga": 1}}


@pytest.mark.parametrize(
    "body, fragment",
    [
        ({"extra_resource_limits": {"nvidia.com/gpu": None}}, "null would remove a configured resource"),
        ({"extra_resource_limits": {"nvidia.com/gpu": -1}}, "must not be negative"),
        ({"extra_resource_limits": ["nvidia.com/gpu"]}, "a map of extended resource name"),
        ({"extra_resource_limits": {"bad name!": 1}}, "not an extended resource name"),
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


# --- numbers of any size, zero, and what Kubernetes would refuse ---


ZEROS = [0, -0.0, 0.0, "0", "0.0"]


@pytest.mark.parametrize(
    "key, value",
    [(k, z) for k in ("cpu_limit", "cpu_guarantee") for z in ZEROS + ["0m", "0.0m"]]
    + [(k, z) for k in ("mem_limit", "mem_guarantee") for z in ZEROS + ["0G", "0Mi", "0.0K"]],
)
def test_zero_is_refused_because_kubespawner_reads_it_as_no_limit(key, value):
    with pytest.raises(RequestError, match="0 would mean no bound"):
        parse_request({key: value}, [])


@pytest.mark.parametrize("key", ["cpu_limit", "mem_limit", "extra_resource_limits"])
def test_huge_integers_are_a_clear_400_not_an_overflow(key):
    huge = 10**400
    value = {"nvidia.com/gpu": huge} if key.startswith("extra") else huge
    with pytest.raises(RequestError) as e:
        parse_request({key: value}, [])
    assert "401-digit number" in str(e.value) or "too large" in str(e.value)


@pytest.mark.parametrize(
    "amount, why",
    [(0.5, "whole numbers"), ("500m", "whole numbers"), ("1.5", "whole numbers"), ("9" * 400, "too large"),
     (10**400, "too large"), (float("inf"), "finite"), (-1, "must not be negative")],
)
def test_extended_resources_are_whole_bounded_numbers(amount, why):
    with pytest.raises(RequestError, match=why):
        parse_request({"extra_resource_limits": {"nvidia.com/gpu": amount}}, [])


@pytest.mark.parametrize("amount, expected", [(1, 1), ("2", 2), (1.0, 1), ("1k", 1000), ("1Ki", 1024), (0, 0)])
def test_extended_resource_amounts(amount, expected):
    r = parse_request({"extra_resource_limits": {"nvidia.com/gpu": amount}}, [])
    assert r.overrides == {"extra_resource_limits": {"nvidia.com/gpu": expected}}


@pytest.mark.parametrize("name", ["cpu", "memory", "gpu", "kubernetes.io/gpu", "x.kubernetes.io/y", "Nvidia.com/gpu"])
def test_cpu_and_memory_are_not_extended_resources(name):
    with pytest.raises(RequestError, match="not an extended resource name|kubernetes.io domain"):
        parse_request({"extra_resource_limits": {name: 1}}, [])


def test_key_count_is_bounded():
    body = {f"k{i}": 1 for i in range(40)} | {"kubespawner_override": {f"n{i}": 1 for i in range(30)}}
    with pytest.raises(RequestError, match=re.escape("user_options has 71 keys and list items (nested ones included); at most 64")):
        parse_request(body, [])
    assert len(parse_request({f"k{i}": 1 for i in range(64)}, []).overrides) == 64


@pytest.mark.parametrize("body, count", [
    # Before: only the top level and kubespawner_override counted (#28 item 7):
    # 3,300 extended resources in one map cost 132 ms of OPA time.
    ({"extra_resource_limits": {f"example.com/r{i}": 1 for i in range(3300)}}, 3301),
    ({"kubespawner_override": {"extra_resource_guarantees": {f"example.com/r{i}": 1 for i in range(64)}}}, 66),
    ({"note": list(range(100))}, 101),
    ({"a": {"b": {f"c{i}": 1 for i in range(63)}}}, 65),
])
def test_nested_maps_and_lists_count_against_the_key_limit(body, count):
    with pytest.raises(RequestError, match=f"user_options has {count} keys and list items"):
        parse_request(body, [])


def test_strings_and_depth_are_bounded():
    with pytest.raises(RequestError, match="a string of 1025 characters; at most 1024 are accepted"):
        parse_request({"image": "x" * 1025}, [])
    with pytest.raises(RequestError, match="a string of 1025 characters"):
        parse_request({"kubespawner_override": {"x" * 1025: 1}}, [])  # keys too
    assert parse_request({"image": "x" * 1024}, []).overrides["image"] == "x" * 1024
    deep: dict = {}
    for _ in range(40):
        deep = {"d": deep}
    with pytest.raises(RequestError, match="user_options is nested more than 32 levels deep"):
        parse_request({"note": deep}, [])


# --- profile options: choices, unlisted choices, with and without "profile" ---

OTHER = [
    {
        "slug": "lab",
        "default": True,
        "profile_options": {
            "image": {
                "choices": {"scipy": {"kubespawner_override": {"image": "quay.io/jupyter/scipy-notebook:2025"}}},
                "unlisted_choice": {
                    "enabled": True,
                    "validation_regex": r"^quay\.io/jupyter/[a-z-]+:[0-9]+$",
                    "validation_message": "use a quay.io/jupyter image with a numeric tag",
                    "kubespawner_override": {"image": "{value}"},
                },
            }
        },
    },
    {"slug": "plain"},
]


@pytest.mark.parametrize("profile", [{}, {"profile": "lab"}])
def test_unlisted_choice_validated_with_or_without_profile_key(profile):
    # KubeSpawner skips validation_regex when no profile is named, yet still applies the choice.
    with pytest.raises(RequestError, match="use a quay.io/jupyter image with a numeric tag"):
        parse_request({**profile, "image--unlisted-choice": "evil.example/miner:latest"}, OTHER)
    r = parse_request({**profile, "image--unlisted-choice": "quay.io/jupyter/r-notebook:2025"}, OTHER)
    assert r.profile_options == {"image--unlisted-choice": "quay.io/jupyter/r-notebook:2025"}
    assert r.overrides == {}


def test_unlisted_choice_refused_where_not_enabled():
    with pytest.raises(RequestError, match="takes no free-form choice; choose one of: scipy, r"):
        parse_request({"profile": "medium", "image--unlisted-choice": "x/y:1"}, PROFILES)


@pytest.mark.parametrize("profile", [{"profile": "medium"}])
def test_unknown_choice_names_the_valid_ones(profile):
    with pytest.raises(RequestError) as e:
        parse_request({**profile, "image": "julia"}, PROFILES)
    assert str(e.value) == "image: no choice 'julia' for option image of profile medium; choose one of: scipy, r"


def test_top_level_key_naming_an_option_is_always_the_choice():
    # Documented meaning: the option's choice; an override goes in kubespawner_override.
    with pytest.raises(RequestError, match="no choice 'quay.io/x/y:1' for option image of profile lab"):
        parse_request({"image": "quay.io/x/y:1"}, OTHER)
    r = parse_request({"kubespawner_override": {"image": "quay.io/x/y:1"}}, OTHER)
    assert r.overrides == {"image": "quay.io/x/y:1"} and r.profile_options == {}


def test_every_override_a_profile_can_apply_is_listed():
    from jhpolicy.core.request import every_override

    profile = {
        "kubespawner_override": {"cpu_limit": 1},
        "profile_options": {
            "image": {"choices": {"a": {"kubespawner_override": {"image": "a"}}, "b": {}},
                      "unlisted_choice": {"enabled": True, "kubespawner_override": {"node_selector": {}}}},
            "size": {"choices": {"big": {"kubespawner_override": {"mem_limit": "2G"}}}},
        },
    }
    assert every_override(profile) == [{"cpu_limit": 1}, {"image": "a"}, {}, {"node_selector": {}}, {"mem_limit": "2G"}, {}]
    assert every_override(None) == [] and every_override({}) == []
