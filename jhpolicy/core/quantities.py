"""Parse the values callers send for the overridable keys.

Callers write memory and CPU the way they know from JupyterHub ("2G") or from
Kubernetes ("2Gi", "500m"). KubeSpawner's traits accept only the JupyterHub
forms, so every value is normalised here, before the policy sees it:
memory to integer bytes, CPU to float cores, extended resources to whole
numbers. A value that cannot be parsed is an :class:`InvalidValue` naming the
key and the accepted forms, which the spawner turns into an HTTP 400.

Arithmetic is exact (:class:`decimal.Decimal`) and every value is bounded
before it becomes a float, so a number of any size is a clear 400, never an
OverflowError and never an Infinity in the JSON sent to OPA.

Zero is refused for CPU and memory: KubeSpawner reads 0 as "no limit" (and
a guarantee of 0 as "none", which Kubernetes turns into the limit), so a 0
would lift the very bound it seems to set.
"""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction

MEMORY_FORMS = 'integer bytes, "512M"/"2G" (1024-based, JupyterHub form) or "512Mi"/"2Gi" (Kubernetes form)'
CPU_FORMS = 'a number of cores (2, 0.5), a numeric string ("2") or Kubernetes millicores ("500m")'
IMAGE_FORMS = "a non-empty string with no whitespace"
EXTRA_RESOURCE_FORMS = (
    'a map of extended resource name (domain/name) to a whole number, e.g. {"nvidia.com/gpu": 1}'
)

# JupyterHub's ByteSpecification suffixes are 1024-based; Kubernetes binary
# suffixes mean the same numbers, so both spellings map to one table.
_BYTE_UNITS = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
# Kubernetes quantity suffixes, for extended-resource amounts.
_QUANTITY_UNITS = {
    "m": Decimal("0.001"),
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}
_NUMBER = r"([0-9]+(?:\.[0-9]+)?)"
_MEMORY_RE = re.compile(rf"^\s*{_NUMBER}\s*(Ki|Mi|Gi|Ti|K|M|G|T)?\s*$")
_CPU_RE = re.compile(rf"^\s*{_NUMBER}\s*(m)?\s*$")
_QUANTITY_RE = re.compile(rf"^{_NUMBER}(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?$")
# Kubernetes: an extended resource is a fully qualified name, domain/name,
# outside the kubernetes.io domain (cpu and memory are not extended resources).
_EXTENDED_NAME_RE = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)

# Far above any node: a larger number is a typo or an attack, not a request.
MAX_BYTES = 2**60
MAX_CORES = 1_000_000
MIN_CORES = Decimal("0.001")  # 1m, the smallest CPU amount Kubernetes represents
MAX_AMOUNT = 2**60


class InvalidValue(ValueError):
    """A requested value that cannot be parsed; ``str()`` is the user-facing text."""

    def __init__(self, key: str, value: object, forms: str, why: str = "") -> None:
        shown = _shown(value)
        detail = f" ({why})" if why else ""
        # What is wrong, without the accepted forms (for lists of problems).
        self.problem = f"{key}: {shown} is not valid{detail}"
        super().__init__(f"{self.problem}; use {forms}")
        self.key = key


def _shown(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**30:
        return f"a {len(str(abs(value)))}-digit number"
    shown = repr(value)
    return shown if len(shown) <= 80 else shown[:77] + "..."


def _is_number(value: object) -> bool:
    # bool is an int subclass, but `true` is never a meaningful size.
    return isinstance(value, int | float) and not isinstance(value, bool)


def _decimal(key: str, value: object, forms: str, pattern: re.Pattern, units: dict) -> Decimal:
    """The exact value of a JSON number or a suffixed string; not negative, finite."""
    if _is_number(value):
        number = Decimal(value)  # exact for any int or float, NaN and infinities included
        if not number.is_finite():
            raise InvalidValue(key, value, forms, "must be a finite number")
        if number < 0:
            raise InvalidValue(key, value, forms, "must not be negative")
        return number
    if isinstance(value, str):
        match = pattern.match(value)
        if not match:
            raise InvalidValue(key, value, forms)
        digits, unit = match.groups()
        return Decimal(digits) * Decimal(units[unit]) if unit else Decimal(digits)
    raise InvalidValue(key, value, forms)


def parse_memory(key: str, value: object) -> int:
    """Return bytes (at least 1) for a memory value in JupyterHub or Kubernetes binary form."""
    number = _decimal(key, value, MEMORY_FORMS, _MEMORY_RE, _BYTE_UNITS)
    unitless = _is_number(value) or not any(c.isalpha() for c in value)
    if unitless and number != number.to_integral_value():
        raise InvalidValue(key, value, MEMORY_FORMS, "bytes must be a whole number")
    if number > MAX_BYTES:
        raise InvalidValue(key, value, MEMORY_FORMS, f"more than {MAX_BYTES} bytes")
    result = int(number)
    if result < 1:
        raise InvalidValue(key, value, MEMORY_FORMS, "0 would mean no bound to KubeSpawner; ask for a positive amount")
    return result


def parse_cpu(key: str, value: object) -> float:
    """Return cores (at least 1m) for a CPU value: a number, a numeric string or millicores."""
    number = _decimal(key, value, CPU_FORMS, _CPU_RE, {"m": Decimal("0.001")})
    if number > MAX_CORES:
        raise InvalidValue(key, value, CPU_FORMS, f"more than {MAX_CORES} cores")
    if number == 0:
        raise InvalidValue(key, value, CPU_FORMS, "0 would mean no bound to KubeSpawner; ask for a positive amount")
    if number < MIN_CORES:
        raise InvalidValue(key, value, CPU_FORMS, "below 1m, the smallest CPU amount Kubernetes has")
    return float(number)


def parse_image(key: str, value: object) -> str:
    if not isinstance(value, str) or not value or any(c.isspace() for c in value):
        raise InvalidValue(key, value, IMAGE_FORMS)
    if len(value) > 1024 or not value.isprintable():
        raise InvalidValue(key, value, IMAGE_FORMS, "not an image reference")
    return value


def parse_amount(key: str, value: object) -> int:
    """One extended-resource amount: Kubernetes accepts only whole numbers for these."""
    number = _decimal(key, value, EXTRA_RESOURCE_FORMS, _QUANTITY_RE, _QUANTITY_UNITS)
    if number != number.to_integral_value():
        raise InvalidValue(key, value, EXTRA_RESOURCE_FORMS, "extended resources are whole numbers")
    if number > MAX_AMOUNT:
        raise InvalidValue(key, value, EXTRA_RESOURCE_FORMS, "too large")
    return int(number)


def kubernetes_quantity(value: object) -> float:
    """The size of a quantity as it stands in a pod manifest (2.0, 1073741824, "500m", "1")."""
    return float(_decimal("quantity", value, "a Kubernetes quantity", _QUANTITY_RE, _QUANTITY_UNITS))


def check_resource_name(key: str, name: object) -> str:
    if not isinstance(name, str) or len(name) > 253 or not _EXTENDED_NAME_RE.match(name):
        raise InvalidValue(key, name, EXTRA_RESOURCE_FORMS, "not an extended resource name")
    domain = name.split("/", 1)[0]
    if domain == "kubernetes.io" or domain.endswith(".kubernetes.io"):
        raise InvalidValue(key, name, EXTRA_RESOURCE_FORMS, "the kubernetes.io domain is not for extended resources")
    return name


def parse_extra_resources(key: str, value: object) -> dict[str, int]:
    """Validate a map of extended resources (GPUs and the like).

    A null amount is refused: KubeSpawner's dict merge would read it as
    "delete the admin's configured key".
    """
    if not isinstance(value, dict):
        raise InvalidValue(key, value, EXTRA_RESOURCE_FORMS)
    parsed = {}
    for name, amount in value.items():
        check_resource_name(key, name)
        if amount is None:
            raise InvalidValue(
                f"{key}[{name}]", amount, EXTRA_RESOURCE_FORMS, "null would remove a configured resource"
            )
        parsed[name] = parse_amount(f"{key}[{name}]", amount)
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

# The CPU and memory amounts (each a number once parsed), in one order.
SCALAR_KEYS = ("cpu_limit", "cpu_guarantee", "mem_limit", "mem_guarantee")

# Each guarantee and the limit that bounds it.
LIMIT_OF = {
    "cpu_guarantee": "cpu_limit",
    "mem_guarantee": "mem_limit",
    "extra_resource_guarantees": "extra_resource_limits",
}


def number_text(n: float) -> str:
    """An amount as people write it: 2, 0.5 (never 2.0)."""
    return str(int(n)) if float(n).is_integer() else f"{n:g}"


def memory_text(n: float) -> str | None:
    """Bytes in the largest 1024-based unit that shows them exactly with at
    most one decimal ("4G", "1.5G", "512M"), in the form an admin writes
    and JupyterHub parses; None when no unit does."""
    for unit, size in (("T", 2**40), ("G", 2**30), ("M", 2**20), ("K", 2**10)):
        if n >= size and (n / size * 10).is_integer():
            return f"{number_text(n / size)}{unit}"
    return None


def cpu_shown(n: float) -> str:
    """CPU cores as the policy's messages show them (policies/lib_quantities.rego,
    show): to the millicore, rounded half away from zero as OPA's round()
    does ("0.1" for 0.7 - 0.6, "0.123" for 0.1234), whole numbers without a
    decimal point. Computed from the decimal the number is sent as, as OPA
    reads it."""
    return _rounded_text(Fraction(repr(float(n))), 3)


def memory_shown(n: float) -> str:
    """Bytes as the policy's messages show them (policies/lib_quantities.rego,
    memory_shown), for the panel to say what the messages say: the largest
    of G, M and K the amount reaches, rounded to two decimals ("1.3G" for a
    quota of "1.3G", which is 1395864371 bytes); less than 1K as a number.
    Computed exactly, as OPA does, and rounded half away from zero, as its
    round() does. Not for values an admin writes back: see memory_text."""
    for unit, size in (("G", 2**30), ("M", 2**20), ("K", 2**10)):
        if n >= size:
            return _rounded_text(Fraction(n) / size, 2) + unit
    return number_text(n)


def _rounded_text(value: Fraction, places: int) -> str:
    """`value` to `places` decimals as OPA's sprintf("%v", [round(value * 10^places) / 10^places])
    prints it: rounded half away from zero, a whole number without a decimal point."""
    scaled = abs(value) * 10**places
    rounded = Fraction(int(scaled + Fraction(1, 2)) * (1 if value >= 0 else -1), 10**places)
    return str(int(rounded)) if rounded.denominator == 1 else repr(float(rounded))
