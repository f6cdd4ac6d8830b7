"""Check OPA's answer against the decision contract before anything is applied.

The contract: ``{"allow": bool, "overrides": {key: value}, "messages": [str]}``,
optionally with ``"charge"`` (the one group of the user's an allowed server
is charged to for quotas, ``"default"`` for the pool of users in no
configured group, or ``null``), ``"quota"`` (that group's quota, for the
hub's metrics) and, on a refusal, ``"reason"`` (what kind of refusal:
``"image"``, ``"profile"``, ``"limit"``, ``"quota"``, ``"invalid"``, or
``"misconfigured"``: the admin's data that governs the spawn is malformed,
counted apart) and ``"help"`` (``{"text": str, "url": str}``, how to get
more, shown with the refusal), and on an allowed one ``"lifetime"``
(``{"idle": {"seconds": n, "from": str}, "max_age": {...}}``, how long the
server may stay idle and live at most, and which allowance or rule said so;
see :mod:`jhpolicy.core.lifetime`),
where ``overrides`` are changes to ``input.pod`` (the pod as the request would
give it): the pod gets ``input.pod`` with ``overrides`` laid over it, maps
merged. ``null`` for a CPU or memory limit or guarantee means none. An answer
of another shape, a key outside the admin's ceiling or a value the
spawner's trait cannot take is a policy bug: :class:`PolicyBroken`, which the
spawner treats like an unreachable OPA (fail closed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .lifetime import Lifetime
from .quantities import PARSERS, InvalidValue

MAX_MESSAGES = 50
MAX_MESSAGE_CHARS = 1000


class PolicyBroken(Exception):
    """The policy answered, but not within the contract. Text is for the hub log."""


@dataclass(frozen=True)
class Decision:
    allow: bool
    overrides: dict[str, object] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)
    charge: str | None = None
    quota: dict = field(default_factory=dict)
    reason: str | None = None
    help: dict | None = None
    lifetime: Lifetime | None = None


# The pool of users in no configured group (the data's default entry).
DEFAULT_POOL = "default"
REASONS = frozenset({"image", "profile", "limit", "quota", "invalid", "misconfigured"})
MAX_HELP_TEXT = 300
MAX_HELP_URL = 500
# A help link: http(s), then printable ASCII but space, quotes and angle
# brackets (what a page, a log line or an attribute could be broken by;
# percent-encode them, and any non-ASCII). The one definition: the data
# checks (policies/data_checks.rego, so `jhpolicy lint`) and the data schema
# use this same pattern, which tests/test_hardening.py holds them to.
HELP_URL_PATTERN = r"^https?://[!#-&(-;=?-~]+$"


def _normalised(key: str, value: object) -> object:
    """Parse a decided value into the normalised form of ``input.pod``."""
    parser = PARSERS.get(key)
    if parser is None:
        # A key the admin added to the ceiling that jhpolicy has no parser
        # for: the trait's own validation is the check (see apply).
        return value
    if value is None and key.startswith(("cpu_", "mem_")):
        return None  # the policy decided: no limit (or no guarantee)
    return parser(key, value)


def _checked_quota(quota: object) -> dict:
    """{key: number, "extra_resources": {name: number}}; anything else is a policy bug."""
    def amount(value):
        return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0

    if not isinstance(quota, dict):
        raise PolicyBroken(f"decision.quota is not an object: {quota!r:.200}")
    for key, value in quota.items():
        ok = (all(amount(v) for v in value.values()) if isinstance(value, dict) and key == "extra_resources"
              else amount(value))
        if not ok:
            raise PolicyBroken(f"decision.quota.{key} is not an amount: {value!r:.100}")
    return quota


def checked_help(value: object) -> dict | None:
    """A refusal's way to get more: a short text and, optionally, an http(s)
    link (never javascript: or data:, which the spawn page would render)."""
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) - {"text", "url"}:
        raise PolicyBroken(f"decision.help is not {{\"text\": ..., \"url\": ...}}: {value!r:.200}")
    text, url = value.get("text"), value.get("url")
    if not isinstance(text, str) or not 0 < len(text) <= MAX_HELP_TEXT:
        raise PolicyBroken(f"decision.help.text is not a string of 1 to {MAX_HELP_TEXT} characters")
    if url is not None and not (isinstance(url, str) and len(url) <= MAX_HELP_URL and re.fullmatch(HELP_URL_PATTERN, url)):
        raise PolicyBroken(f"decision.help.url is not an http(s) link of at most {MAX_HELP_URL} characters")
    return {"text": text, **({"url": url} if url is not None else {})}


def validate(result: object, ceiling: set[str] | frozenset[str], groups: list[str] = (),
             lifetime_ceiling: dict[str, int] | None = None) -> Decision:
    """The decision, or PolicyBroken. `ceiling`: the keys it may set
    (policy_allowed_keys); `lifetime_ceiling`: the longest lifetime of each
    kind it may give, in seconds (policy_max_lifetime)."""
    if not isinstance(result, dict):
        raise PolicyBroken(f"decision is not an object: {result!r:.200}")
    allow = result.get("allow")
    if not isinstance(allow, bool):
        raise PolicyBroken(f"decision.allow is missing or not a boolean: {allow!r:.100}")
    overrides = result.get("overrides", {})
    if not isinstance(overrides, dict):
        raise PolicyBroken(f"decision.overrides is not an object: {overrides!r:.200}")
    messages = result.get("messages", [])
    if not isinstance(messages, list) or not all(isinstance(m, str) for m in messages):
        raise PolicyBroken(f"decision.messages is not a list of strings: {messages!r:.200}")
    messages = [m[:MAX_MESSAGE_CHARS] for m in messages[:MAX_MESSAGES]]

    if not allow:
        reason = result.get("reason")
        if reason is not None and reason not in REASONS:
            raise PolicyBroken(f"decision.reason is not one of {sorted(REASONS)}: {reason!r:.100}")
        return Decision(allow=False, messages=messages, reason=reason, help=checked_help(result.get("help")))

    outside = sorted(set(overrides) - set(ceiling))
    if outside:
        raise PolicyBroken(
            f"decision grants keys outside policy_allowed_keys: {', '.join(map(str, outside))}"
        )
    # Charging a group the user is not in would spend another group's quota.
    charge = result.get("charge")
    if charge is not None and charge not in groups and charge != DEFAULT_POOL:
        raise PolicyBroken(f"decision.charge is not one of the user's groups: {charge!r:.100}")
    quota = _checked_quota(result.get("quota", {}))
    lifetime = None
    if result.get("lifetime") is not None:
        try:
            lifetime = Lifetime.parse(result["lifetime"], charge)
        except ValueError as e:
            raise PolicyBroken(f"decision.{e}") from None
        for kind, most in (lifetime_ceiling or {}).items():
            limit = getattr(lifetime, kind)
            if limit is not None and limit.seconds > most:
                raise PolicyBroken(f"decision.lifetime.{kind} {limit.seconds} s is above policy_max_lifetime ({most} s)")
    parsed = {}
    for key, value in overrides.items():
        try:
            parsed[key] = _normalised(key, value)
        except InvalidValue as e:
            raise PolicyBroken(f"decision.overrides: {e}") from None
    return Decision(allow=True, overrides=parsed, messages=messages, charge=charge, quota=quota, lifetime=lifetime)


def outcome_of(decision: Decision, requested: dict, final: dict | None) -> str:
    """What a contract-checked decision did to a spawn whose pod had the
    values `requested`, by the names the hub's metrics, `jhpolicy check`
    and the suites use: "misconfigured" (refused: the admin's data for it is
    malformed), "denied", "clamped" (it changed a value) or "allowed"."""
    return outcome_name(decision.allow, decision.reason, final != requested)


def outcome_name(allow: bool, reason: str | None, changed: bool) -> str:
    if not allow:
        return "misconfigured" if reason == "misconfigured" else "denied"
    return "clamped" if changed else "allowed"
