"""What people read: the exact text of every refusal, and how it is labelled.

A caller reads the 400/403/503 message; an admin reads the hub log and the
metrics' failure reason. These tests pin those texts and labels, so a change
to any of them is a deliberate one (and a mutant that garbles one is caught).
"""

from __future__ import annotations

import pytest
from tornado import web

from jhpolicy.core import decision as decisions
from jhpolicy.core import quantities
from jhpolicy.core.decision import MAX_MESSAGE_CHARS, MAX_MESSAGES, PolicyBroken, validate
from jhpolicy.core.quantities import (
    CPU_FORMS,
    EXTRA_RESOURCE_FORMS,
    IMAGE_FORMS,
    MEMORY_FORMS,
    InvalidValue,
    kubernetes_quantity,
)
from jhpolicy.core.request import RequestError, parse_request
from jhpolicy.hub import errors

BIG = 2**60  # MAX_BYTES and MAX_AMOUNT

# (parser, key, value, the problem the caller reads, the accepted forms)
INVALID_VALUES = [
    ("parse_memory", "mem_limit", "lots", "mem_limit: 'lots' is not valid", MEMORY_FORMS),
    ("parse_memory", "mem_limit", [1], "mem_limit: [1] is not valid", MEMORY_FORMS),
    ("parse_memory", "mem_limit", "-1G", "mem_limit: '-1G' is not valid", MEMORY_FORMS),
    ("parse_memory", "mem_limit", 1.5, "mem_limit: 1.5 is not valid (bytes must be a whole number)", MEMORY_FORMS),
    ("parse_memory", "mem_limit", "0.4", "mem_limit: '0.4' is not valid (bytes must be a whole number)", MEMORY_FORMS),
    ("parse_memory", "mem_limit", -1, "mem_limit: -1 is not valid (must not be negative)", MEMORY_FORMS),
    ("parse_memory", "mem_guarantee", float("inf"), "mem_guarantee: inf is not valid (must be a finite number)", MEMORY_FORMS),
    ("parse_memory", "mem_guarantee", float("nan"), "mem_guarantee: nan is not valid (must be a finite number)", MEMORY_FORMS),
    (
        "parse_memory",
        "mem_limit",
        BIG + 1,
        f"mem_limit: {BIG + 1} is not valid (more than {BIG} bytes)",
        MEMORY_FORMS,
    ),
    (
        "parse_memory",
        "mem_limit",
        "0.0001K",
        "mem_limit: '0.0001K' is not valid (0 would mean no bound to KubeSpawner; ask for a positive amount)",
        MEMORY_FORMS,
    ),
    # Huge integers are described, not printed; 10**30 - 1 still fits the message.
    ("parse_memory", "mem_limit", 10**30, f"mem_limit: a 31-digit number is not valid (more than {BIG} bytes)", MEMORY_FORMS),
    (
        "parse_memory",
        "mem_limit",
        -(10**30),
        "mem_limit: a 31-digit number is not valid (must not be negative)",
        MEMORY_FORMS,
    ),
    (
        "parse_memory",
        "mem_limit",
        10**30 - 1,
        f"mem_limit: {10**30 - 1} is not valid (more than {BIG} bytes)",
        MEMORY_FORMS,
    ),
    # Values are shown up to 80 characters, then cut to 77 and "...".
    ("parse_memory", "mem_limit", "x" * 78, f"mem_limit: '{'x' * 78}' is not valid", MEMORY_FORMS),
    ("parse_memory", "mem_limit", "x" * 79, f"mem_limit: '{'x' * 76}... is not valid", MEMORY_FORMS),
    ("parse_cpu", "cpu_limit", "-500m", "cpu_limit: '-500m' is not valid", CPU_FORMS),
    ("parse_cpu", "cpu_limit", True, "cpu_limit: True is not valid", CPU_FORMS),
    ("parse_cpu", "cpu_limit", -2, "cpu_limit: -2 is not valid (must not be negative)", CPU_FORMS),
    (
        "parse_cpu",
        "cpu_limit",
        0,
        "cpu_limit: 0 is not valid (0 would mean no bound to KubeSpawner; ask for a positive amount)",
        CPU_FORMS,
    ),
    (
        "parse_cpu",
        "cpu_guarantee",
        0.0001,
        "cpu_guarantee: 0.0001 is not valid (below 1m, the smallest CPU amount Kubernetes has)",
        CPU_FORMS,
    ),
    ("parse_cpu", "cpu_limit", 1_000_001, "cpu_limit: 1000001 is not valid (more than 1000000 cores)", CPU_FORMS),
    ("parse_image", "image", "a b", "image: 'a b' is not valid", IMAGE_FORMS),
    ("parse_image", "image", "", "image: '' is not valid", IMAGE_FORMS),
    ("parse_image", "image", 7, "image: 7 is not valid", IMAGE_FORMS),
    ("parse_image", "image", "a\x00b", "image: 'a\\x00b' is not valid (not an image reference)", IMAGE_FORMS),
    ("parse_image", "image", "x" * 1025, f"image: '{'x' * 76}... is not valid (not an image reference)", IMAGE_FORMS),
    (
        "parse_amount",
        "extra_resource_limits[nvidia.com/gpu]",
        "lots",
        "extra_resource_limits[nvidia.com/gpu]: 'lots' is not valid",
        EXTRA_RESOURCE_FORMS,
    ),
    (
        "parse_amount",
        "extra_resource_limits[nvidia.com/gpu]",
        -1,
        "extra_resource_limits[nvidia.com/gpu]: -1 is not valid (must not be negative)",
        EXTRA_RESOURCE_FORMS,
    ),
    (
        "parse_amount",
        "extra_resource_limits[nvidia.com/gpu]",
        "1.5",
        "extra_resource_limits[nvidia.com/gpu]: '1.5' is not valid (extended resources are whole numbers)",
        EXTRA_RESOURCE_FORMS,
    ),
    (
        "parse_amount",
        "extra_resource_limits[nvidia.com/gpu]",
        BIG + 1,
        f"extra_resource_limits[nvidia.com/gpu]: {BIG + 1} is not valid (too large)",
        EXTRA_RESOURCE_FORMS,
    ),
    (
        "parse_extra_resources",
        "extra_resource_limits",
        [1],
        "extra_resource_limits: [1] is not valid",
        EXTRA_RESOURCE_FORMS,
    ),
    (
        "parse_extra_resources",
        "extra_resource_limits",
        {"nvidia.com/gpu": None},
        "extra_resource_limits[nvidia.com/gpu]: None is not valid (null would remove a configured resource)",
        EXTRA_RESOURCE_FORMS,
    ),
    (
        "parse_extra_resources",
        "extra_resource_guarantees",
        {"example.com/fpga": "1.5"},
        "extra_resource_guarantees[example.com/fpga]: '1.5' is not valid (extended resources are whole numbers)",
        EXTRA_RESOURCE_FORMS,
    ),
    (
        "parse_extra_resources",
        "extra_resource_limits",
        {"gpu": 1},
        "extra_resource_limits: 'gpu' is not valid (not an extended resource name)",
        EXTRA_RESOURCE_FORMS,
    ),
    (
        "parse_extra_resources",
        "extra_resource_limits",
        {"x.io/a/b": 1},
        "extra_resource_limits: 'x.io/a/b' is not valid (not an extended resource name)",
        EXTRA_RESOURCE_FORMS,
    ),
    (
        "parse_extra_resources",
        "extra_resource_limits",
        {"kubernetes.io/gpu": 1},
        "extra_resource_limits: 'kubernetes.io/gpu' is not valid (the kubernetes.io domain is not for extended resources)",
        EXTRA_RESOURCE_FORMS,
    ),
    (
        "parse_extra_resources",
        "extra_resource_limits",
        {"gpu.kubernetes.io/a/b": 1},
        "extra_resource_limits: 'gpu.kubernetes.io/a/b' is not valid (not an extended resource name)",
        EXTRA_RESOURCE_FORMS,
    ),
    (
        "parse_extra_resources",
        "extra_resource_limits",
        {"gpu.kubernetes.io/gpu": 1},
        "extra_resource_limits: 'gpu.kubernetes.io/gpu' is not valid "
        "(the kubernetes.io domain is not for extended resources)",
        EXTRA_RESOURCE_FORMS,
    ),
]


@pytest.mark.parametrize("parser, key, value, problem, forms", INVALID_VALUES)
def test_invalid_value_messages(parser, key, value, problem, forms):
    with pytest.raises(InvalidValue) as caught:
        getattr(quantities, parser)(key, value)
    assert caught.value.problem == problem
    assert str(caught.value) == f"{problem}; use {forms}"
    assert caught.value.key == problem.split(": ")[0]


@pytest.mark.parametrize(
    "body, message",
    [
        ({"mem_limit": "lots"}, f"mem_limit: 'lots' is not valid; use {MEMORY_FORMS}"),
        (
            {"kubespawner_override": {"extra_resource_limits": {"example.com/gpu": None}}},
            "extra_resource_limits[example.com/gpu]: None is not valid (null would remove a configured resource); "
            f"use {EXTRA_RESOURCE_FORMS}",
        ),
    ],
)
def test_request_errors_carry_the_value_message(body, message):
    with pytest.raises(RequestError) as caught:
        parse_request(body, [])
    assert str(caught.value) == message


@pytest.mark.parametrize(
    "parser, key, value, expected",
    [
        ("parse_memory", "mem_limit", BIG, BIG),  # the bound itself is allowed
        ("parse_memory", "mem_limit", 1, 1),
        ("parse_memory", "mem_limit", "1.5K", 1536),
        ("parse_cpu", "cpu_limit", 1_000_000, 1_000_000.0),
        ("parse_cpu", "cpu_limit", 0.001, 0.001),
        ("parse_cpu", "cpu_limit", "1m", 0.001),  # exactly the smallest amount
        ("parse_image", "image", "x" * 1024, "x" * 1024),
        ("parse_amount", "n", BIG, BIG),
        ("parse_amount", "n", 0, 0),
    ],
)
def test_values_at_the_bounds_are_accepted(parser, key, value, expected):
    assert getattr(quantities, parser)(key, value) == expected


def test_longest_extended_resource_name_is_accepted():
    domain = ".".join(["a" * 61] * 4)  # 247 characters
    name = domain + "/gpu12"  # 253, Kubernetes' limit for a qualified name
    assert quantities.parse_extra_resources("extra_resource_limits", {name: 1}) == {name: 1}
    with pytest.raises(InvalidValue, match="not an extended resource name"):
        quantities.parse_extra_resources("extra_resource_limits", {name + "x": 1})


@pytest.mark.parametrize("value", ["lots", "-1", [1]])
def test_manifest_quantity_that_cannot_be_read_names_what_it_is(value):
    with pytest.raises(InvalidValue) as caught:
        kubernetes_quantity(value)
    assert str(caught.value) == f"quantity: {value!r} is not valid; use a Kubernetes quantity"


@pytest.mark.parametrize("value, expected", [("500m", 0.5), ("1Ki", 1024.0), (2, 2.0), ("1", 1.0)])
def test_manifest_quantities(value, expected):
    assert kubernetes_quantity(value) == expected


# --- the error each refusal raises, on JupyterHub 6 and on JupyterHub 5 ---


# JupyterHub 5 has no SpawnException; on 6 both shapes are tested.
SHAPES = ["HTTPError"] + (["SpawnException"] if errors.SpawnException is not None else [])


@pytest.fixture(params=SHAPES)
def hub_errors(request, monkeypatch):
    """errors as on JupyterHub >= 6 (SpawnException) and as on 5 (no SpawnException)."""
    if request.param == "HTTPError":
        monkeypatch.setattr(errors, "SpawnException", None)
    return request.param


@pytest.mark.parametrize(
    "make, status, reason, message",
    [
        (lambda: errors.invalid_request("cpu_limit: 'x' is not valid"), 400, "invalid", "Invalid spawn request: cpu_limit: 'x' is not valid"),
        (lambda: errors.denied(["a", "b 100%"], reason="quota"), 403, "quota", "Spawn refused by policy: a; b 100%"),
        (lambda: errors.denied([]), 403, "denied", "Spawn refused by policy: the spawn policy does not allow this request"),
        (lambda: errors.denied(["quota reached: x"], reason="quota", help={"text": "Ask for more", "url": "https://help.example.edu/gpu?a=1&b=2"}),
         403, "quota", "Spawn refused by policy: quota reached: x. Ask for more: https://help.example.edu/gpu?a=1&b=2"),
        (lambda: errors.unavailable(), 503, "unavailable", errors.UNAVAILABLE_MESSAGE),
    ],
)
def test_refusals_status_reason_and_message(hub_errors, make, status, reason, message):
    error = make()
    assert isinstance(error, web.HTTPError)
    assert error.status_code == status
    # A malformed request is also the ValueError KubeSpawner raises for one; a refusal is not.
    assert isinstance(error, ValueError) == (status == 400)
    # What JupyterHub's API and spawn page show instead of the exception text.
    assert error.jupyterhub_message == message
    assert errors.message_of(error) == message
    if hub_errors == "SpawnException":
        # The failure reason in JupyterHub's spawn metrics.
        assert isinstance(error, errors.SpawnException)
        assert error.reason == reason and error.message == message and error.log_message == message
    else:
        # JupyterHub 5 logs log_message % args: a '%' in a policy message must survive it.
        assert error.log_message % error.args == message
        assert error.reason is None  # the standard phrase for the status, not a label
        assert str(error) == f"HTTP {status}: {web.httputil.responses[status]} ({message})"


def test_the_spawn_pages_get_the_help_as_a_link():
    # Through JupyterHub's own format_exception, which the spawn form's error,
    # the spawn-pending page and the progress stream's failed event read
    # (#28 item 6: before, they showed the link as plain text).
    from jupyterhub.utils import format_exception

    error = errors.denied(["image <evil> is not allowed"], reason="image", help={"text": "Ask <staff>", "url": "https://help.example.edu/a?b=1&c=2"})
    text, html = format_exception(error)
    assert text.endswith(". Ask <staff>: https://help.example.edu/a?b=1&c=2")
    assert html == (
        'Spawn refused by policy: image &lt;evil&gt; is not allowed. '
        '<a href="https://help.example.edu/a?b=1&amp;c=2">Ask &lt;staff&gt;</a>'
    )
    if errors.SpawnException is not None:
        assert error.message_html == html  # JupyterHub 6's error pages
    without_url = errors.denied(["x"], reason="limit", help={"text": "Ask your course's staff"})
    assert format_exception(without_url)[1] == "Spawn refused by policy: x. Ask your course&#x27;s staff"
    assert format_exception(errors.denied(["x"]))[1] is None  # no help: the text, escaped by the template


def test_message_of_an_error_jhpolicy_did_not_raise():
    assert errors.message_of(web.HTTPError(502)) == "HTTP 502: Bad Gateway"
    assert errors.message_of(web.HTTPError(400, "bad %s", "thing")) == "bad thing"


# --- the decision contract: what the hub log says about a broken policy ---


@pytest.mark.parametrize(
    "answer, log",
    [
        ([1], "decision is not an object: [1]"),
        ({"allow": "yes"}, "decision.allow is missing or not a boolean: 'yes'"),
        ({}, "decision.allow is missing or not a boolean: None"),
        ({"allow": True, "overrides": ["image"]}, "decision.overrides is not an object: ['image']"),
        ({"allow": True, "overrides": None}, "decision.overrides is not an object: None"),
        ({"allow": False, "messages": [1]}, "decision.messages is not a list of strings: [1]"),
        ({"allow": False, "messages": "no"}, "decision.messages is not a list of strings: 'no'"),
        ({"allow": False, "messages": None}, "decision.messages is not a list of strings: None"),
        (
            {"allow": True, "overrides": {"privileged": True, "b": 1}},
            "decision grants keys outside policy_allowed_keys: b, privileged",
        ),
        (
            {"allow": True, "overrides": {"cpu_limit": "lots"}},
            f"decision.overrides: cpu_limit: 'lots' is not valid; use {CPU_FORMS}",
        ),
        ({"allow": "x" * 300}, f"decision.allow is missing or not a boolean: '{'x' * 99}"),
    ],
)
def test_broken_decisions_say_what_is_wrong(answer, log):
    with pytest.raises(PolicyBroken) as caught:
        validate(answer, {"image", "cpu_limit"})
    assert str(caught.value) == log


def test_decision_defaults_and_bounds():
    assert validate({"allow": True}, set()) == validate({"allow": True, "overrides": {}, "messages": []}, set())
    refused = validate({"allow": False, "overrides": {"anything": 1}, "messages": ["no"]}, set())
    assert refused.allow is False and refused.overrides == {} and refused.messages == ["no"]
    many = validate({"allow": False, "messages": ["m" * 5000] * 500}, set())
    assert len(many.messages) == MAX_MESSAGES and {len(m) for m in many.messages} == {MAX_MESSAGE_CHARS}
    # null CPU or memory means "no limit"; a null image is not a value.
    assert validate({"allow": True, "overrides": {"cpu_limit": None, "mem_guarantee": None}}, {"cpu_limit", "mem_guarantee"}).overrides == {
        "cpu_limit": None,
        "mem_guarantee": None,
    }
    with pytest.raises(PolicyBroken, match=r"^decision.overrides: image: None is not valid"):
        validate({"allow": True, "overrides": {"image": None}}, {"image"})
    # A key with no parser (widened ceiling) passes as decided, for the trait to check.
    assert validate({"allow": True, "overrides": {"node_selector": {"a": "b"}}}, {"node_selector"}).overrides == {
        "node_selector": {"a": "b"}
    }


# --- malformed requests: the 400 text the caller reads ---

PROFILE_LIST = [
    {"slug": "small", "display_name": "Small", "default": True, "kubespawner_override": {}},
    {
        "slug": "big",
        "display_name": "Big",
        "profile_options": {
            "image": {
                "display_name": "Image",
                "choices": {"a": {"display_name": "A", "kubespawner_override": {"image": "x/a:1"}}},
                "unlisted_choice": {"enabled": True, "validation_regex": "^x/", "display_name": "Own"},
            },
            "free": {"display_name": "Free", "choices": {}, "unlisted_choice": {"enabled": True}},
            "closed": {"display_name": "Closed", "choices": {"c": {"display_name": "C"}}},
        },
    },
]


def nested(depth):
    value = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    "body, message",
    [
        ([1], "user_options must be a JSON object"),
        ("x", "user_options must be a JSON object"),
        ({"profile": ""}, "profile: must be a profile slug (a non-empty string)"),
        ({"profile": 3}, "profile: must be a profile slug (a non-empty string)"),
        ({"profile": "nope"}, "profile: no such profile 'nope'; choose one of: small, big"),
        # Caller-chosen text is cut to 60 characters, "..." included.
        ({"profile": "p" * 60}, f"profile: no such profile '{'p' * 60}'; choose one of: small, big"),
        ({"profile": "p" * 61}, f"profile: no such profile '{'p' * 57}...'; choose one of: small, big"),
        ({"kubespawner_override": [1]}, "kubespawner_override: must be a JSON object of key: value"),
        ({"a": 1, "kubespawner_override": {"a": 2}}, "a: given twice with different values (top level and kubespawner_override)"),
        (
            {"k" * 61: 1, "kubespawner_override": {"k" * 61: 2}},
            f"{'k' * 57}...: given twice with different values (top level and kubespawner_override)",
        ),
        ({"k": float("nan")}, "k: nan is not a finite number"),
        ({"k": [float("-inf")]}, "k: -inf is not a finite number"),
        ({"k": nested(9)}, "k: value is nested too deeply"),
        ({"k": {"a": nested(8)}}, "k: value is nested too deeply"),
        ({"kubespawner_override": {"k": {"a": nested(8)}}}, "k: value is nested too deeply"),
        ({"kubespawner_override": {1: 2}}, "override keys must be strings"),
        ({"k": {1}}, "user_options is not JSON"),
        ({"profile": "big", "image": "b"}, "image: no choice 'b' for option image of profile big; choose one of: a"),
        ({"profile": "big", "image": 3}, "image: a profile option's choice must be a string"),
        (
            {"profile": "big", "image--unlisted-choice": "y/z", "free--unlisted-choice": "f"},
            "image--unlisted-choice: 'y/z' is not accepted: it must match ^x/",
        ),
        (
            {"profile": "big", "free": "q"},
            "free: no choice 'q' for option free of profile big; choose one of: (none)",
        ),
        ({"profile": "big"}, "free--unlisted-choice: option free of profile big needs a value"),
        ({"profile": "big", "free": ""}, "free--unlisted-choice: option free of profile big needs a value"),
        (
            {"profile": "big", "free--unlisted-choice": "f", "closed--unlisted-choice": "q"},
            "closed--unlisted-choice: option closed of profile big takes no free-form choice; choose one of: c",
        ),
    ],
)
def test_malformed_request_messages(body, message):
    with pytest.raises(RequestError) as caught:
        parse_request(body, PROFILE_LIST, 64 * 1024)
    assert str(caught.value) == message


def test_deepest_accepted_nesting_reaches_the_policy():
    assert parse_request({"k": nested(8)}, []).overrides == {"k": nested(8)}


def test_a_profile_with_no_profile_list_names_the_problem():
    with pytest.raises(RequestError) as caught:
        parse_request({"profile": "gpu"}, [])
    assert str(caught.value) == "profile: 'gpu' requested, but this hub has no profiles"


def test_size_and_key_bounds_are_inclusive():
    import json

    body = {"image": "x/y"}
    size = len(json.dumps(body))
    assert parse_request(body, [], size).overrides == {"image": "x/y"}
    with pytest.raises(RequestError) as caught:
        parse_request(body, [], size - 1)
    assert str(caught.value) == f"user_options is {size} bytes; at most {size - 1} are accepted"
    keys = {str(i): 1 for i in range(3)} | {"kubespawner_override": {"a": 1}}
    assert len(parse_request(keys, [], None, 5).overrides) == 4
    with pytest.raises(RequestError) as caught:
        parse_request(keys, [], None, 4)
    assert str(caught.value) == "user_options has 5 keys and list items (nested ones included); at most 4 are accepted"


def test_null_override_map_is_an_empty_one():
    assert parse_request({"kubespawner_override": None, "image": "x/y"}, []).overrides == {"image": "x/y"}


def test_unlisted_choice_passes_its_validation():
    request = parse_request(
        {"profile": "big", "image--unlisted-choice": "x/mine:1", "free--unlisted-choice": "f"}, PROFILE_LIST
    )
    assert request.profile_options == {"image--unlisted-choice": "x/mine:1", "free--unlisted-choice": "f"}
    assert request.overrides == {}


def test_nesting_counts_maps_and_lists_alike():
    assert parse_request({"k": {"a": nested(7)}}, []).overrides == {"k": {"a": nested(7)}}
    with pytest.raises(RequestError, match="nested too deeply"):
        parse_request({"k": {"a": {"b": nested(7)}}}, [])


def test_no_user_options_is_an_empty_request():
    request = parse_request(None, [])
    assert request.overrides == {} and request.profile is None and request.profile_options == {}


@pytest.mark.parametrize("help", [
    "ask", {"text": ""}, {"text": "x" * 301}, {"text": "ask", "url": "javascript:alert(1)"},
    {"text": "ask", "url": "https://x/\" onclick=\"y"}, {"text": "ask", "url": "https://" + "x" * 500},
    {"text": "ask", "link": "https://x"}, {"url": "https://x"},
])
def test_a_refusals_help_outside_the_contract_is_a_broken_policy(help):
    with pytest.raises(decisions.PolicyBroken):
        decisions.validate({"allow": False, "messages": ["no"], "reason": "image", "help": help}, set())


def test_a_refusals_reason_and_help_within_the_contract():
    d = decisions.validate({"allow": False, "messages": ["no"], "reason": "quota", "help": {"text": "Ask", "url": "https://h.example/x"}}, set())
    assert (d.reason, d.help) == ("quota", {"text": "Ask", "url": "https://h.example/x"})
    with pytest.raises(decisions.PolicyBroken):
        decisions.validate({"allow": False, "messages": ["no"], "reason": "capacity"}, set())


def shown_differently(opa, key: str, amounts: list, shown) -> list:
    """The amounts the policy's show(key, n), asked of the real OPA, shows
    otherwise than `shown` (the panel's Python) does."""
    import httpx

    query = f'shown := [s | some n in input.amounts; s := data.jupyterhub.lib.quantities.show("{key}", n)]'
    r = httpx.post(f"{opa.url}/v1/query", json={"query": query, "input": {"amounts": amounts}}, timeout=30)
    r.raise_for_status()
    (result,) = r.json()["result"]
    return [(n, rego, shown(n)) for n, rego in zip(amounts, result["shown"]) if rego != shown(n)]


def test_the_panel_shows_memory_as_the_policys_messages_do(opa):
    """One form of an amount of memory for people: quantities.memory_shown
    (the panel) gives what the policy's show() gives (its messages), asked of
    the real OPA for amounts at every unit's edges and a seeded spread."""
    import random

    edges = [0, 1, 1000, 1023, 1024, 1025, 1536 * 1024, 2**20 - 1, 2**20, 1053819, 5000000001, 1395864371,
             4608 * 2**20, 2**30 - 1, 2**30, 2**40, 3 * 2**40 + 5, 1.5 * 2**30, 1.125 * 2**30, 1.375 * 2**20, 0.5, 1024.5, 2**60]
    rng = random.Random(31)
    amounts = edges + [rng.randrange(1, 2**45) for _ in range(300)] + [rng.uniform(1, 2**35) for _ in range(100)]
    assert shown_differently(opa, "mem_limit", amounts, quantities.memory_shown) == []


def test_the_panel_shows_cpus_as_the_policys_messages_do(opa):
    """The same for CPU amounts: quantities.cpu_shown (the panel) gives what
    show() gives, to the millicore, at the rounding edges and a seeded spread."""
    import random

    edges = [0, 1, 2, 0.5, 0.1, 0.7 - 0.6, 0.1234, 0.1235, 0.1225, 0.0005, 0.0015, 0.0025, 0.9995, 1.0005, 2.5, 63.9999,
             64, 0.001, 0.0004999, 1 / 3, 2 / 3, 1e-9, 12345.6785, 0.3 * 3]
    rng = random.Random(30)
    decimals = [round(rng.uniform(0, 64), rng.randrange(1, 6)) for _ in range(300)]
    amounts = edges + decimals + [rng.uniform(0, 8) for _ in range(100)]
    assert shown_differently(opa, "cpu_limit", amounts, quantities.cpu_shown) == []
