"""Turn a spawn request's ``user_options`` into what the policy decides on.

Every key the caller sends ends up in exactly one place: KubeSpawner's
profile machinery (``profile`` and the selected profile's options) or the
overrides put before the policy. Nothing is dropped on the way, so a policy
can deny what it does not understand instead of it being silently ignored.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

from .quantities import PARSERS, InvalidValue, as_number

OVERRIDE_KEY = "kubespawner_override"
PROFILE_KEY = "profile"
UNLISTED_SUFFIX = "--unlisted-choice"


class RequestError(ValueError):
    """A malformed request; ``str()`` is the message the caller sees (HTTP 400)."""


@dataclass
class SpawnRequest:
    profile: str | None
    # The selected profile's options, as KubeSpawner reads them from user_options.
    profile_options: dict[str, str] = field(default_factory=dict)
    # Values in the form the spawner's traits take (bytes, cores, quantity strings).
    overrides: dict[str, object] = field(default_factory=dict)
    # What the caller sent for each override key, before parsing.
    raw: dict[str, object] = field(default_factory=dict)

    def normalised(self) -> dict[str, object]:
        """Overrides as plain numbers a policy can compare (bytes, cores, counts)."""
        out: dict[str, object] = {}
        for key, value in self.overrides.items():
            if key.startswith("extra_resource_"):
                out[key] = {name: as_number(q) for name, q in value.items()}
            else:
                out[key] = value
        return out


def selected_profile(slug: str | None, profile_list: list[dict]) -> dict | None:
    """The profile KubeSpawner applies: the one named, else the default."""
    for profile in profile_list:
        if profile.get("slug") == slug or (not slug and profile.get("default")):
            return profile
    return None


def profile_option_keys(profile_slug: str | None, profile_list: list[dict]) -> set[str]:
    """The user_options keys KubeSpawner reads for the selected profile."""
    profile = selected_profile(profile_slug, profile_list)
    if profile is None:
        return set()
    keys = set()
    for option in profile.get("profile_options", {}):
        keys.add(option)
        keys.add(option + UNLISTED_SUFFIX)
    return keys


def _check_json(key: str, value: object, depth: int = 0) -> None:
    # JSON has no NaN or Infinity, but Python's json module reads them.
    if depth > 8:
        raise RequestError(f"{key}: value is nested too deeply")
    if isinstance(value, float) and not math.isfinite(value):
        raise RequestError(f"{key}: {value!r} is not a finite number")
    if isinstance(value, dict):
        for k, v in value.items():
            _check_json(key, v, depth + 1)
    elif isinstance(value, list):
        for v in value:
            _check_json(key, v, depth + 1)


def parse_request(user_options: object, profile_list: list[dict], max_bytes: int | None = None) -> SpawnRequest:
    """Split and parse ``user_options``.

    ``profile_list`` is KubeSpawner's initialised profile list (slugs filled
    in, one default), so the selected profile's option keys are known.
    """
    if user_options is None:
        user_options = {}
    if not isinstance(user_options, dict):
        raise RequestError("user_options must be a JSON object")
    if max_bytes is not None:
        try:
            size = len(json.dumps(user_options, allow_nan=True))
        except (TypeError, ValueError, RecursionError):
            raise RequestError("user_options is not JSON") from None
        if size > max_bytes:
            raise RequestError(f"user_options is {size} bytes; at most {max_bytes} are accepted")

    profile = user_options.get(PROFILE_KEY)
    if profile is not None and not (isinstance(profile, str) and profile):
        raise RequestError(f"{PROFILE_KEY}: must be a profile slug (a non-empty string)")
    if profile and not profile_list:
        raise RequestError(f"{PROFILE_KEY}: {profile!r} requested, but this hub has no profiles")
    if profile and not any(p.get("slug") == profile for p in profile_list):
        slugs = ", ".join(p["slug"] for p in profile_list)
        raise RequestError(f"{PROFILE_KEY}: no such profile {profile!r}; choose one of: {slugs}")

    option_keys = profile_option_keys(profile, profile_list)
    profile_options = {}
    for key in sorted(option_keys & set(user_options)):
        value = user_options[key]
        if not isinstance(value, str):
            raise RequestError(f"{key}: a profile option's choice must be a string")
        profile_options[key] = value

    requested: dict[str, object] = {}
    nested = user_options.get(OVERRIDE_KEY, {})
    if nested is None:
        nested = {}
    if not isinstance(nested, dict):
        raise RequestError(f"{OVERRIDE_KEY}: must be a JSON object of key: value")
    requested.update(nested)
    for key, value in user_options.items():
        if key in (PROFILE_KEY, OVERRIDE_KEY) or key in option_keys:
            continue
        if key in nested and nested[key] != value:
            raise RequestError(f"{key}: given twice with different values (top level and {OVERRIDE_KEY})")
        requested[key] = value

    request = SpawnRequest(profile=profile, profile_options=profile_options)
    for key, value in requested.items():
        if not isinstance(key, str):
            raise RequestError("override keys must be strings")
        request.raw[key] = value
        parser = PARSERS.get(key)
        if parser is None:
            # Keys jhpolicy cannot parse go to the policy as they came, so that
            # the policy (not this code) is where they are refused.
            _check_json(key, value)
            request.overrides[key] = value
            continue
        try:
            request.overrides[key] = parser(key, value)
        except InvalidValue as e:
            raise RequestError(str(e)) from None
    return request
