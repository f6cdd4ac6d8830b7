"""How a suite shows values, lifetimes and messages to an admin, and the
patterns it writes for them."""

from __future__ import annotations

import re

from ...core.lifetime import duration
from ...core.quantities import memory_text
from ...hub.errors import REFUSAL_PREFIX


def lifetime_seconds(report: dict) -> dict:
    """{kind: seconds} of the spawn's decided lifetime; {} for none."""
    return {kind: limit["seconds"] for kind, limit in (report.get("lifetime") or {}).items()}


def lifetime_text(seconds: dict) -> str:
    return ", ".join(f"{kind} {duration(n)}" for kind, n in sorted(seconds.items())) or "none"


def human(key: str, value) -> object:
    """A pod value as an admin writes it: 2 CPUs, "4G"."""
    if value is None or key == "image":
        return value
    if key.startswith("mem_"):
        return memory_text(value) or value
    if key.startswith("cpu_"):
        return int(value) if float(value).is_integer() else value
    return dict(value)


def policy_text(message: str) -> str:
    """A refusal as the policy worded it, without the hub's prefix."""
    return message.removeprefix(REFUSAL_PREFIX)


def pattern_of(message: str, length: int = 80) -> str:
    """A readable regular expression matching the start of `message`."""
    start = message if len(message) <= length else message[:length].rsplit(" ", 1)[0]
    return "^" + re.sub(r"([.^$*+?{}\[\]\\|()])", r"\\\1", start)
