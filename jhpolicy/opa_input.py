"""Build the document jhpolicy sends to OPA as ``input``.

The shape is a contract with policy authors (documented in the README), so
it carries a version: add fields freely, but a change that renames or removes
one bumps ``INPUT_VERSION``.
"""

from __future__ import annotations

from .quantities import PARSERS, InvalidValue, as_number, parse_quantity
from .request import SpawnRequest

INPUT_VERSION = 1

# The spawner values a policy can compare a request against: the keys a
# request can override.
CURRENT_KEYS = tuple(PARSERS)


def describe_user(user) -> dict:
    groups = sorted(g if isinstance(g, str) else g.name for g in (getattr(user, "groups", None) or []))
    return {"name": user.name, "admin": bool(getattr(user, "admin", False)), "groups": groups}


def describe_requester(current_user, user) -> dict:
    """Who made the HTTP request: the user, an admin acting for them, or a service.

    JupyterHub gives a ``User`` wrapper (has ``.admin``) or an ``orm.Service``.
    With no request (a spawn the hub starts itself), the user is the requester.
    """
    who = current_user if current_user is not None else user
    kind = "user"
    if type(who).__name__ == "Service" or getattr(who, "kind", None) == "service":
        kind = "service"
    return {"kind": kind, "name": who.name, "admin": bool(getattr(who, "admin", False))}


def current_values(spawner) -> dict:
    """The spawner's effective values after admin config and profile."""
    out = {}
    for key in CURRENT_KEYS:
        value = getattr(spawner, key, None)
        if isinstance(value, dict):
            value = {name: _amount(amount) for name, amount in value.items()}
        out[key] = value
    return out


def _amount(amount):
    # Admin-configured amounts are usually strings ("1"); policies compare numbers.
    try:
        return as_number(parse_quantity("current", amount))
    except InvalidValue:
        return amount


def build_input(spawner, request: SpawnRequest, current_user=None) -> dict:
    return {
        "version": INPUT_VERSION,
        "user": describe_user(spawner.user),
        "requester": describe_requester(current_user, spawner.user),
        "server": {"name": spawner.name or ""},
        "request": {
            "profile": request.profile,
            "profile_options": dict(request.profile_options),
            "overrides": request.normalised(),
            "raw": dict(request.raw),
        },
        "current": current_values(spawner),
    }
