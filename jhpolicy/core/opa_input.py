"""Build the document jhpolicy sends to OPA as ``input``.

The shape is a contract with policy authors (docs/reference/input.md), so
it carries a version: add fields freely, but a change that renames or removes
one bumps ``INPUT_VERSION``.
"""

from __future__ import annotations

import json
import math

from .pod import Pod
from .request import SpawnRequest
from .users import user_groups

# 2: `pod` and `sources` (the pod's final values and where each came from)
# replace `current`; limits are never 0, "no limit" is null.
INPUT_VERSION = 2


def describe_user(user) -> dict:
    groups = sorted(g if isinstance(g, str) else g.name for g in user_groups(user))
    return {"name": user.name, "admin": getattr(user, "admin", False) is True, "groups": groups}


def describe_requester(current_user, user) -> dict:
    """Who made the HTTP request: the user, an admin acting for them, or a service.

    JupyterHub gives a ``User`` wrapper (has ``.admin``) or an ``orm.Service``.
    With no request (a spawn the hub starts itself), the user is the requester.
    """
    who = current_user if current_user is not None else user
    kind = "user"
    if type(who).__name__ == "Service" or getattr(who, "kind", None) == "service":
        kind = "service"
    return {"kind": kind, "name": who.name, "admin": getattr(who, "admin", False) is True}


def describe_groups(user) -> dict:
    """Each of the user's groups with its JupyterHub `properties` (JupyterHub
    >= 4, editable by admins in the admin page and the REST API), where
    admins can set a group's quota without a redeploy."""
    groups = {}
    for group in user_groups(user):
        if isinstance(group, str):
            groups[group] = {"properties": {}}
        else:
            properties = getattr(group, "properties", None)
            properties = properties if isinstance(properties, dict) else {}
            groups[group.name] = {"properties": {k: property_value(k, v) for k, v in properties.items()}}
    # NaN and Infinity, which the REST API accepts in properties, become text
    # where the input is sent (opa_http; see finite()).
    return groups


def property_value(key: str, value: object) -> object:
    """jhpolicy's properties as the policy reads them. The admin page stores
    what an admin types as a string, so a `jhpolicy_` property holding JSON
    text is parsed; text that is not JSON stays a string, which the policy
    refuses as malformed (naming the group), never reads as "no quota"."""
    if not (isinstance(key, str) and key.startswith("jhpolicy_") and isinstance(value, str)):
        return value
    try:
        # NaN and Infinity become text where the input is sent (finite()).
        return json.loads(value)
    except ValueError:
        return value


def finite(value: object) -> object:
    """`value` with every non-finite number (NaN, Infinity, which JupyterHub's
    REST API accepts in group properties) as text: JSON has no such numbers,
    and a policy reading one where it expects an amount refuses it."""
    if isinstance(value, float) and not math.isfinite(value):
        return json.dumps(value)  # "NaN", "Infinity" or "-Infinity", as Python's JSON writes them
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def build_input(spawner, request: SpawnRequest, current_user, pod: Pod) -> dict:
    """The input; `usage` (what the hub's active servers hold, see
    jhpolicy.hub.ledger) is added by the spawner under the ledger's lock."""
    return {
        "version": INPUT_VERSION,
        "user": describe_user(spawner.user),
        "requester": describe_requester(current_user, spawner.user),
        "groups": describe_groups(spawner.user),
        "server": {"name": spawner.name or ""},
        **describe_spawn(request, pod),
    }


def describe_spawn(request: SpawnRequest, pod: Pod) -> dict:
    """The part of the input that is this spawn's: what was asked, and the
    pod it would give. The spawn page's candidates are this part alone."""
    return {
        "request": {
            "profile": request.profile,
            "profile_named": request.profile_named,
            "profile_options": dict(request.profile_options),
            "overrides": dict(request.overrides),
            "raw": dict(request.raw),
        },
        "pod": pod.values,
        "sources": pod.sources,
    }
