"""The allowance view: what a user may launch and how much of each quota
that applies to them is in use, as the policy describes it
(``allowance_view`` in policies/allowance_view.rego).

The policy's answer is checked here as decisions are (jhpolicy.core.decision):
a view of the wrong shape, too long, or with amounts that are not finite
non-negative numbers is never shown; the caller gets ``NOT_AVAILABLE``
instead, with a reason for the hub log.
"""

from __future__ import annotations

import math

from .decision import PolicyBroken, checked_help
from .lifetime import Lifetime
from .quantities import SCALAR_KEYS

VERSION = 1
SCOPES = {"user", "member", "group", "hub"}
# Beyond the policy's own cuts (20 images, 20 repositories), generous
# bounds that still keep one view small whatever the policy says.
MAX_LIST = 100
MAX_TEXT = 1000

NOT_AVAILABLE = {"available": False, "message": "your allowance is not available right now; try again later"}


class ViewBroken(Exception):
    """The policy's answer is not an allowance view."""


def validate(result: object, candidates: int = 0) -> dict:
    """The view as shown to users, or ViewBroken saying what is wrong.
    `candidates` is how many spawns the input asked to be judged
    (jhpolicy.core.offers); a view without judgements judges none, one with
    another number of them is broken."""
    if not isinstance(result, dict) or not isinstance(result.get("available"), bool):
        raise ViewBroken(f"not an allowance view: {result!r:.200}")
    if not result["available"]:
        return {"version": VERSION, "available": False, "message": _text(result.get("message"), "message")}
    return {
        "version": VERSION,
        "available": True,
        "sources": _texts(result.get("sources"), "sources"),
        "images": _texts(result.get("images"), "images"),
        "images_total": _count(result.get("images_total"), "images_total"),
        "repositories": _texts(result.get("repositories"), "repositories"),
        "repositories_total": _count(result.get("repositories_total"), "repositories_total"),
        "max": {key: _amount(value, f"max.{key}") for key, value in _object(result.get("max"), "max").items()
                if _known(key, SCALAR_KEYS, "max")},
        "extra_resources": {_text(name, "extra_resources"): _amount(n, f"extra_resources.{name}")
                            for name, n in _object(result.get("extra_resources"), "extra_resources").items()},
        "profiles": _texts(result.get("profiles"), "profiles"),
        "quotas": [_quota_row(row) for row in _list(result.get("quotas"), "quotas")],
        "lifetimes": _lifetimes(result.get("lifetimes")),
        "candidates": _judgements(result.get("candidates"), candidates),
    }


def _judgements(value: object, expected: int) -> list[dict] | None:
    if value is None:
        return None
    value = _list(value, "candidates")
    if len(value) != expected:
        raise ViewBroken(f"candidates: {len(value)} judgements for {expected} candidates")
    judged = []
    for item in value:
        item = _object(item, "candidates[]")
        if not isinstance(item.get("allow"), bool):
            raise ViewBroken("candidates[].allow is not a boolean")
        judgement = {"allow": item["allow"], "message": _text(item.get("message"), "candidates[].message")}
        if item.get("help") is not None:
            try:  # the decision's own check: the page links to it
                judgement["help"] = checked_help(item["help"])
            except PolicyBroken as e:
                raise ViewBroken(f"candidates[].{e}") from None
        judged.append(judgement)
    return judged


def _lifetimes(value: object) -> dict:
    """{"servers": lifetime, "extra_resources": {name: lifetime}}, each as a
    decision's (jhpolicy.core.lifetime); a view that says nothing of them: none."""
    if value is None:
        return {"servers": {}, "extra_resources": {}}
    value = _object(value, "lifetimes")
    resources = _object(value.get("extra_resources", {}), "lifetimes.extra_resources")
    try:
        return {
            "servers": Lifetime.parse(value.get("servers", {})).to_json(),
            "extra_resources": {_text(name, "lifetimes.extra_resources"): Lifetime.parse(lifetime).to_json()
                                for name, lifetime in resources.items()},
        }
    except ValueError as e:
        raise ViewBroken(f"lifetimes: {e}") from None


def _quota_row(row: object) -> dict:
    row = _object(row, "quotas[]")
    scope = row.get("scope")
    if scope not in SCOPES:
        raise ViewBroken(f"quotas[].scope {scope!r:.50} is not one of {sorted(SCOPES)}")
    return {
        "scope": scope,
        "group": _text(row.get("group"), "quotas[].group"),
        "resource": _text(row.get("resource"), "quotas[].resource"),
        "quota": _amount(row.get("quota"), "quotas[].quota"),
        "in_use": _amount(row.get("in_use"), "quotas[].in_use"),
        "left": _amount(row.get("left"), "quotas[].left"),
    }


def _known(key: str, known, where: str) -> bool:
    if key not in known:
        raise ViewBroken(f"{where}.{key:.50} is not one of {sorted(known)}")
    return True


def _object(value: object, where: str) -> dict:
    if not isinstance(value, dict) or len(value) > MAX_LIST:
        raise ViewBroken(f"{where} is not an object of at most {MAX_LIST} keys")
    return value


def _list(value: object, where: str) -> list:
    if not isinstance(value, list) or len(value) > MAX_LIST:
        raise ViewBroken(f"{where} is not a list of at most {MAX_LIST} items")
    return value


def _texts(value: object, where: str) -> list[str]:
    return [_text(item, where) for item in _list(value, where)]


def _text(value: object, where: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise ViewBroken(f"{where} is not a string of at most {MAX_TEXT} characters")
    return value


def _amount(value: object, where: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ViewBroken(f"{where} {value!r:.50} is not a finite amount of 0 or more")
    if isinstance(value, int) and value > 2**63 - 1:
        raise ViewBroken(f"{where} is too large")
    return value


def _count(value: object, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 2**31:
        raise ViewBroken(f"{where} is not a count")
    return value
