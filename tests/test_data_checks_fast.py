"""The data checks' short way (data_checks._plainly_well_formed) never
passes an allowance entry that the long way, which names each problem
(data_checks._entry_field_problems), would refuse.

Every decision checks every allowance that applies to it, so an entry of
the commonest keys, all well formed, is passed with a few expressions; any
other entry goes the long way. A short way that passed a malformed entry
would let a typo in the admin's data mean "no limit": this draws entries
(each field well formed or not, alone on a good entry and mixed at random)
and checks that wherever the short way passes one, the long way finds
nothing. The shipped data's entries take the short way (else it saves
nothing)."""

from __future__ import annotations

import json
import random
import subprocess

import pytest

from jhpolicy.tooling.opa_binary import ensure_opa
from tests.helpers.policies import POLICIES

pytestmark = pytest.mark.opa

GPU = "nvidia.com/gpu"
ABSENT = object()
GOOD = {"images": ["quay.io/jupyter/*-notebook:*"], "profiles": ["*"],
        "max": {"cpu_limit": 2, "cpu_guarantee": "500m", "mem_limit": "4G", "mem_guarantee": 2**30},
        "extra_resources": {GPU: 1}, "help": {"text": "Ask for more", "url": "https://example.org/ask"}}
# Each key's values, well formed or not; ABSENT leaves the key out.
FIELDS = {
    "images": [ABSENT, ["a/*"], [], ["a", 1], "a/*", None, [["x"]], {}],
    "profiles": [ABSENT, ["*"], [], "small", [None], {"small": 1}],
    "max": [ABSENT, {}, GOOD["max"], {"cpu_limit": "2 cores"}, {"cpu_limit": 0}, {"cpu_limit": -1},
            {"mem_limit": "4Gi"}, {"mem_limit": "4 G"}, {"cpu_limit": "500m"}, {"cpu_limit": "4G"},
            {"mem_limt": "2G"}, {"extra_resources": {}}, [], ["cpu_limit"], "2", None, {"cpu_limit": True},
            {"mem_limit": "0G"}, {"cpu_guarantee": "0.5"}, {"mem_guarantee": 1.5}],
    "extra_resources": [ABSENT, {}, {GPU: 1}, {GPU: 1.5}, {GPU: -1}, {GPU: "1"}, [1], [], None, {GPU: 0},
                        {GPU: True}],
    "help": [ABSENT, {"text": "Ask"}, GOOD["help"], {"text": ""}, "ask", {"text": "a", "url": "ftp://x"},
             {"text": "a", "more": 1}, {"text": "a" * 301}, {"url": "https://x.org"}, None,
             {"text": "a", "url": "https://x.org/a b"}],
    "lifetime": [ABSENT, {"idle": "2h"}, "2h", {"idle": "soon"}],
    "image_repositories": [ABSENT, {"quay.io/jupyter/base-notebook": ["*"]}, [], {"r": "x"}],
    "mem_limt": [ABSENT, "2G"],
    "Images": [ABSENT, []],
}
NOT_OBJECTS = ["group students", [], None, 5, [GOOD]]


def _entry(values: dict) -> dict:
    return {key: value for key, value in values.items() if value is not ABSENT}


def one_field_at_a_time() -> list[dict]:
    """Each field's every value alone on the good entry (ABSENT: without it)."""
    return [_entry({**GOOD, key: value}) for key, values in FIELDS.items() for value in values]


def drawn_entries(n: int = 1500, seed: int = 31) -> list:
    """The good entry, each field's every value alone on it, then `n`
    entries of random values (mostly absent or good, as the admin's data
    is), then values that are no entry at all."""
    rng = random.Random(seed)
    mixed = []
    for _ in range(n):
        values = {key: (rng.choice(values) if rng.random() < 0.25 else (GOOD.get(key, ABSENT)))
                  for key, values in FIELDS.items()}
        mixed.append(_entry(values))
    return [GOOD, *one_field_at_a_time(), *mixed, *NOT_OBJECTS]


SHORT_WAY = """[[short, problems] |
	some entry in input.entries
	short := count([1 | data.jupyterhub.spawn.data_checks._plainly_well_formed(entry)]) == 1
	problems := data.jupyterhub.spawn.data_checks._entry_problems("x", entry, true)
]"""


LONG_WAY = """[problems |
	some entry in input.entries
	problems := {p | not is_object(entry); p := "x is not an object"} | {sprintf("x: %s", [p]) |
		is_object(entry)
		some p in data.jupyterhub.spawn.data_checks._entry_field_problems(entry, true)
	}
]"""


def _asked(query: str, entries: list) -> list:
    answer = subprocess.run([ensure_opa(), "eval", "--format", "json", "--stdin-input", "-d", str(POLICIES), query],
                            input=json.dumps({"entries": entries}), capture_output=True, text=True, check=True)
    return json.loads(answer.stdout)["result"][0]["expressions"][0]["value"]


def judged(entries: list) -> list:
    """[whether the short way passes it, _entry_problems] for each entry."""
    return _asked(SHORT_WAY, entries)


def long_way(entries: list) -> list:
    """The long way's problems of each entry, asked without the short way
    before it, named as _entry_problems names them."""
    return _asked(LONG_WAY, entries)


def test_the_short_way_passes_only_entries_the_long_way_finds_nothing_in():
    entries = drawn_entries()
    answers, long = judged(entries), long_way(entries)
    # Either way, the same problems; where the short way passes, none.
    assert [sorted(problems) for _, problems in answers] == [sorted(p) for p in long]
    assert all(problems == [] for passed, problems in answers if passed)
    # Both ways are taken by well-formed entries, and many drawn are not.
    assert sum(1 for ok, _ in answers if ok) > 200
    assert sum(1 for ok, problems in answers if not ok and not problems) > 20
    assert sum(1 for _, problems in answers if problems) > 500


def test_each_field_alone_is_judged_as_the_long_way_judges_it():
    entries = one_field_at_a_time()
    for entry, (passed, problems), long in zip(entries, judged(entries), long_way(entries), strict=True):
        assert sorted(problems) == sorted(long), entry
        assert not (passed and long), entry


def test_the_shipped_datas_entries_take_the_short_way():
    jhpolicy = json.loads((POLICIES / "data.json").read_text())["jhpolicy"]
    entries = [*jhpolicy["groups"].values(), jhpolicy["requesters"]["admins"], *jhpolicy["requesters"]["services"].values()]
    assert [passed for passed, _ in judged(entries)] == [True] * len(entries)
