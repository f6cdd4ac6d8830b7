"""Parse the values callers send for the overridable keys.

Callers write memory and CPU the way they know from JupyterHub ("2G") or from
Kubernetes ("2Gi", "500m"). KubeSpawner's traits accept only the JupyterHub
forms, so every value is normalised here, before the policy sees it:
memory to integer bytes, CPU to float cores. A value that cannot be parsed is
an :class:`InvalidValue` naming the key and the accepted forms, which the
spawner turns into an HTTP 400.
"""

from __future__ import annotations

import math
import re

MEMORY_FORMS = 'integer bytes, "512M"/"2G" (1024-based, JupyterHub form) or "512Mi"/"2Gi" (Kubernetes form)'
CPU_FORMS = 'a number of cores (2, 0.5), a numeric string ("2") or Kubernetes millicores ("500m")'
IMAGE_FORMS = "a non-empty string with no whitespace"
EXTRA_RESOURCE_FORMS = (
    'a map of resource name to a non-negative integer or quantity, e.g. {"nvidia.com/gpu": 1}'
)

# JupyterHub's ByteSpecification suffixes are 1024-based; Kubernetes binary
# suffixes mean the same numbers, so both spellings map to one table.
_BYTE_UNITS = {
    "K": 1024,
    "M": 1024**2,
    "G": 1024**3,
    "T": 1024**4,
    "Ki": 1024,
    "Mi": 1024**2,
    "Gi": 1024**3,
    "Ti": 1024**4,
}
_MEMORY_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(Ki|Mi|Gi|Ti|K|M|G|T)?\s*$")
_CPU_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(m)?\s*$")
# Kubernetes quantity grammar (the subset used for extended resources).
_QUANTITY_RE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?$")
_RESOURCE_NAME_RE = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")

# Far above any node: a larger number is a typo or an attack, not a request.
MAX_BYTES = 2**60
MAX_CORES = 1_000_000.0


class InvalidValue(ValueError):
    """A requested value that cannot be parsed; ``str()`` is the user-facing text."""

    def __init__(self, key: str, value: object, forms: str, why: str = "") -> None:
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        detail = f" ({why})" if why else ""
        super().__init__(f"{key}: {shown} is not valid{detail}; use {forms}")
        self.key = key


def _is_number(value: object) -> bool:
    # bool is an int subclass, but `true` is never a meaningful size.
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_memory(key: str, value: object) -> int:
    """Return bytes for a memory value in JupyterHub or Kubernetes binary form."""
    if _is_number(value):
        number = float(value)
        if not math.isfinite(number) or number < 0:
            raise InvalidValue(key, value, MEMORY_FORMS, "must be finite and not negative")
        if number != int(number):
            raise InvalidValue(key, value, MEMORY_FORMS, "bytes must be a whole number")
        result = int(value)
    elif isinstance(value, str):
        match = _MEMORY_RE.match(value)
        if not match:
            raise InvalidValue(key, value, MEMORY_FORMS)
        number, unit = match.groups()
        result = int(float(number) * _BYTE_UNITS.get(unit, 1)) if unit else int(float(number))
        if not unit and "." in number:
            raise InvalidValue(key, value, MEMORY_FORMS, "bytes must be a whole number")
    else:
        raise InvalidValue(key, value, MEMORY_FORMS)
    if result > MAX_BYTES:
        raise InvalidValue(key, value, MEMORY_FORMS, "too large")
    return result


def parse_cpu(key: str, value: object) -> float:
    """Return cores for a CPU value: a number, a numeric string or millicores."""
    if _is_number(value):
        result = float(value)
        if not math.isfinite(result) or result < 0:
            raise InvalidValue(key, value, CPU_FORMS, "must be finite and not negative")
    elif isinstance(value, str):
        match = _CPU_RE.match(value)
        if not match:
            raise InvalidValue(key, value, CPU_FORMS)
        number, milli = match.groups()
        result = float(number) / 1000 if milli else float(number)
    else:
        raise InvalidValue(key, value, CPU_FORMS)
    if result > MAX_CORES:
        raise InvalidValue(key, value, CPU_FORMS, "too large")
    return result


def parse_image(key: str, value: object) -> str:
    if not isinstance(value, str) or not value or any(c.isspace() for c in value):
        raise InvalidValue(key, value, IMAGE_FORMS)
    if len(value) > 1024 or not value.isprintable():
        raise InvalidValue(key, value, IMAGE_FORMS, "not an image reference")
    return value


def parse_quantity(key: str, value: object) -> int | float | str:
    """Validate one extended-resource amount; keep strings as Kubernetes quantities."""
    if _is_number(value):
        number = float(value)
        if not math.isfinite(number) or number < 0:
            raise InvalidValue(key, value, EXTRA_RESOURCE_FORMS, "must be finite and not negative")
        if number > MAX_BYTES:
            raise InvalidValue(key, value, EXTRA_RESOURCE_FORMS, "too large")
        return int(value) if number == int(number) else number
    if isinstance(value, str) and _QUANTITY_RE.match(value):
        return value
    raise InvalidValue(key, value, EXTRA_RESOURCE_FORMS)


def quantity_number(quantity: int | float | str) -> float:
    """The numeric size of a Kubernetes quantity, for policies to compare."""
    if not isinstance(quantity, str):
        return float(quantity)
    number, unit = _QUANTITY_RE.match(quantity).groups()
    scale = {
        None: 1,
        "m": 1e-3,
        "k": 1e3,
        "M": 1e6,
        "G": 1e9,
        "T": 1e12,
        "P": 1e15,
        "E": 1e18,
        "Ki": 2**10,
        "Mi": 2**20,
        "Gi": 2**30,
        "Ti": 2**40,
        "Pi": 2**50,
        "Ei": 2**60,
    }[unit]
    return float(number) * scale


def as_number(quantity: int | float | str) -> int | float:
    number = quantity_number(quantity)
    return int(number) if number.is_integer() else number


def parse_extra_resources(key: str, value: object) -> dict[str, int | float | str]:
    """Validate a map of extended resources (GPUs and the like).

    A null amount is refused: KubeSpawner's dict merge would read it as
    "delete the admin's configured key".
    """
    if not isinstance(value, dict):
        raise InvalidValue(key, value, EXTRA_RESOURCE_FORMS)
    parsed = {}
    for name, amount in value.items():
        if not isinstance(name, str) or not _RESOURCE_NAME_RE.match(name) or len(name) > 253:
            raise InvalidValue(key, name, EXTRA_RESOURCE_FORMS, "not a resource name")
        if amount is None:
            raise InvalidValue(
                f"{key}[{name}]", amount, EXTRA_RESOURCE_FORMS, "null would remove a configured resource"
            )
        parsed[name] = parse_quantity(f"{key}[{name}]", amount)
    return parsed


# The overridable keys jhpolicy knows how to parse, with their parsers.
PARSERS = {
    "image": parse_image,
    "cpu_limit": parse_cpu,
    "cpu_guarantee": parse_cpu,
    "mem_limit": parse_memory,
    "mem_guarantee": parse_memory,
    "extra_resource_limits": parse_extra_resources,
    "extra_resource_guarantees": parse_extra_resources,
}
