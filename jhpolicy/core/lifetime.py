"""Server lifetimes: how long a server may stay idle and live at most.

The policy decides them at spawn (policies/lifetimes.rego: ``decision.lifetime``),
the spawner keeps them with the server, and jupyterhub-idle-culler 2.0 stops
the server through :func:`arbiter`, its ``IdleCuller.cull_arbiter_hook``.

Where they are kept, and why there: in the **spawner's state**, under
``jhpolicy_lifetime``. JupyterHub saves the state in its database when a
server starts, so it survives a hub restart and a later policy change does
not touch it until the server stops; and the culler already reads every
server's model from the REST API, which includes the state for a token with
the one scope ``admin:server_state`` (read-only: no endpoint writes state).
A pod annotation instead would need the culler to hold Kubernetes
credentials that can read every pod. The pod also gets the annotation
``jhpolicy/lifetime`` (same JSON), for people with kubectl; nothing reads it.

This module imports nothing of JupyterHub or KubeSpawner: the culler runs it
in its own process.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

KINDS = ("idle", "max_age")
STATE_KEY = "jhpolicy_lifetime"
ANNOTATION = "jhpolicy/lifetime"
# A decided lifetime above this (about 10 years) is a policy bug, not a lifetime.
MAX_SECONDS = 10 * 366 * 86400
MAX_FROM_CHARS = 300
# What the z2jh integration (jhpolicy.culler.configure) moves the chart's
# cull.maxAge into: the maximum age of servers with none decided.
FALLBACK_MAX_AGE_ENV = "JHPOLICY_CULL_MAX_AGE"


@dataclass(frozen=True)
class Limit:
    seconds: int
    source: str  # which allowance or rule gave it: "group students", "servers holding nvidia.com/gpu"


@dataclass(frozen=True)
class Lifetime:
    idle: Limit | None = None
    max_age: Limit | None = None
    # The group the server was charged to (decision.charge), for the culls metric.
    group: str | None = None

    @classmethod
    def parse(cls, value: object, group: str | None = None) -> Lifetime:
        """``{"idle": {"seconds": n, "from": text}, "max_age": {...}}``, either kind
        optional; anything else raises ValueError saying what is wrong."""
        if not isinstance(value, dict) or set(value) - set(KINDS):
            raise ValueError(f"lifetime is not an object of {', '.join(KINDS)}: {value!r:.200}")
        limits = {}
        for kind, limit in value.items():
            if not isinstance(limit, dict) or set(limit) != {"seconds", "from"}:
                raise ValueError(f"lifetime.{kind} is not {{\"seconds\": n, \"from\": text}}: {limit!r:.200}")
            seconds, source = limit["seconds"], limit["from"]
            if isinstance(seconds, float) and seconds.is_integer():
                seconds = int(seconds)  # JSON numbers may come back as floats
            if not isinstance(seconds, int) or isinstance(seconds, bool) or not 0 < seconds <= MAX_SECONDS:
                raise ValueError(f"lifetime.{kind}.seconds is not a whole number from 1 to {MAX_SECONDS}: {seconds!r:.50}")
            if not isinstance(source, str) or not 0 < len(source) <= MAX_FROM_CHARS:
                raise ValueError(f"lifetime.{kind}.from is not a text of 1 to {MAX_FROM_CHARS} characters")
            limits[kind] = Limit(seconds, source)
        return cls(group=group, **limits)

    def limits_json(self) -> dict:
        """The limits as the decision gives them: {kind: {"seconds", "from"}}."""
        return {kind: {"seconds": limit.seconds, "from": limit.source}
                for kind in KINDS if (limit := getattr(self, kind)) is not None}

    def to_json(self) -> dict:
        """As kept in the state: the limits and the charged group."""
        limits = self.limits_json()
        return {**limits, "group": self.group} if self.group is not None else limits

    @classmethod
    def from_json(cls, saved: dict) -> Lifetime:
        saved = dict(saved)
        group = saved.pop("group", None)
        return cls.parse(saved, group if isinstance(group, str) else None)

    def sentence(self) -> str:
        """What the user is told, e.g. "this server stops after 1 h idle
        (servers holding nvidia.com/gpu), and after 8 h at most (group gpu)"."""
        return "this server stops " + stops_text(self.limits_json())

    def reason_to_stop(self, age: timedelta | None, inactive: timedelta | None) -> str | None:
        """"age" or "idle" when this lifetime is up, else None."""
        if self.max_age is not None and age is not None and age.total_seconds() >= self.max_age.seconds:
            return "age"
        if self.idle is not None and inactive is not None and inactive.total_seconds() >= self.idle.seconds:
            return "idle"
        return None


def stops_text(lifetime: dict) -> str:
    """"after 1 h idle (…), and after 8 h at most (…)" from a lifetime as the
    policy writes it (decision or allowance view)."""
    parts = []
    if "idle" in lifetime:
        parts.append(f"after {duration(lifetime['idle']['seconds'])} idle ({lifetime['idle']['from']})")
    if "max_age" in lifetime:
        parts.append(f"after {duration(lifetime['max_age']['seconds'])} at most ({lifetime['max_age']['from']})")
    return ", and ".join(parts)


def duration(seconds: int) -> str:
    """A duration as people write it: "90 s", "45 min", "1 h 30 min", "2 d"."""
    parts, rest = [], int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if rest >= size:
            parts.append(f"{rest // size} {unit}")
            rest %= size
    return " ".join(parts[:2]) if parts else "0 s"


DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: object) -> int:
    """Seconds in a duration as the policy's data writes it (policies/lib_quantities.rego,
    duration_seconds): a whole number above 0, or "90s", "90m", "2h", "1d"."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = re.fullmatch(r"([0-9]{1,6})([smhd])", value) if isinstance(value, str) else None
    if match is None or int(match[1]) == 0:
        raise ValueError(f'{value!r:.50} is not a whole number of seconds above 0 or a string like "90m", "2h" or "1d"')
    return int(match[1]) * DURATION_UNITS[match[2]]


def saved(state: object) -> Lifetime | None:
    """The lifetime kept in a spawner's state, or None (none decided, or
    the state unreadable: then the culler's own rules apply)."""
    if not isinstance(state, dict) or STATE_KEY not in state:
        return None
    return Lifetime.from_json(state[STATE_KEY])


def _log() -> logging.Logger:
    from traitlets.config import Application

    return Application.instance().log if Application.initialized() else logging.getLogger(__name__)


def since(moment: datetime | str | None) -> timedelta | None:
    """How long ago `moment` was: a datetime (JupyterHub's database keeps
    naive UTC ones) or an ISO 8601 text (its REST API's), None for none."""
    if not moment:
        return None
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return datetime.now(timezone.utc) - moment


def arbiter(*, inactive: timedelta | None, inactive_limit: int, server: dict, **kwargs) -> bool:
    """jupyterhub-idle-culler 2.0's cull_arbiter_hook: cull a server idle
    past its decided timeout or older than its decided maximum age; one with
    none decided (or a kind not decided) follows the culler's --timeout and
    the chart's cull.maxAge (moved to JHPOLICY_CULL_MAX_AGE, see
    jhpolicy.culler.configure: the culler's own --max-age would cut across decided ages)."""
    log = _log()
    try:
        decided = saved(server.get("state"))
    except ValueError as e:
        log.error("jhpolicy: server %s has an unreadable saved lifetime (%s): the culler's own rules apply",
                  server.get("full_name") or server.get("name"), e)
        decided = None
    if decided is None:
        decided = Lifetime()
    fallback_age = int(os.environ.get(FALLBACK_MAX_AGE_ENV) or 0)
    lifetime = Lifetime(
        idle=decided.idle or (Limit(inactive_limit, "the culler's --timeout") if inactive_limit else None),
        max_age=decided.max_age or (Limit(fallback_age, "cull.maxAge") if fallback_age > 0 else None),
    )
    reason = lifetime.reason_to_stop(since(server.get("started")), inactive)
    if reason is not None:
        limit = lifetime.max_age if reason == "age" else lifetime.idle
        log.info("jhpolicy: culling %s: %s %s reached (%s)", server.get("full_name") or server.get("name"),
                 "maximum age" if reason == "age" else "idle timeout", duration(limit.seconds), limit.source)
    return reason is not None


def annotation(lifetime: Lifetime) -> str:
    return json.dumps(lifetime.to_json(), sort_keys=True)
