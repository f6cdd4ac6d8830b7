"""Turn a spawn request's ``user_options`` into what the policy decides on.

Every key the caller sends ends up in exactly one place: KubeSpawner's
profile machinery (``profile`` and the selected profile's options) or the
overrides put before the policy. Nothing is dropped on the way, so a policy
can deny what it does not understand instead of it being silently ignored.

A top-level key that names an option of the selected profile (the named one,
or the default profile when none is named) is always that option's choice,
as in KubeSpawner; an override of the same name goes in
``kubespawner_override``.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field

from .quantities import PARSERS, InvalidValue

OVERRIDE_KEY = "kubespawner_override"
PROFILE_KEY = "profile"
UNLISTED_SUFFIX = "--unlisted-choice"
MAX_REQUEST_KEYS = 64
# No image reference, quantity or resource name comes near this (an image
# reference is at most 255 + 128 characters plus a digest).
MAX_STRING = 1024
# Beyond the 8 levels a value may nest (_check_json): a bound on the walk itself.
MAX_DEPTH = 32


class RequestError(ValueError):
    """A malformed request; ``str()`` is the message the caller sees (HTTP 400)."""


class ProfileListError(ValueError):
    """The hub's profile_list has a shape KubeSpawner may take but no judge
    can tell its profiles apart by (the admin's config); ``str()`` says what."""


def check_profile_list(profile_list: object, slugs: bool = True) -> None:
    """Raise ProfileListError unless each profile has its own slug and its
    options and choices are objects, as the decision and the spawn page
    need to know which profile (and choice) a spawn is. `slugs` False: the
    shape alone (before KubeSpawner fills in slugs from display names)."""
    if not isinstance(profile_list, list):
        raise ProfileListError(f"profile_list must be a list of profiles, not {type(profile_list).__name__}")
    seen: set[str] = set()
    for i, profile in enumerate(profile_list):
        where = f"profile_list[{i}]"
        if not isinstance(profile, dict):
            raise ProfileListError(f"{where} is not a dict")
        slug = profile.get("slug")
        if slugs:  # KubeSpawner has filled them in from display names
            if not isinstance(slug, str) or not slug:
                raise ProfileListError(f"{where} has no slug (give it a slug or a display_name)")
            if slug in seen:
                raise ProfileListError(f"two profiles have the slug {slug!r}: give each profile a slug of its own")
            seen.add(slug)
        if isinstance(slug, str) and slug:
            where = f"profile {slug}"
        if not isinstance(profile.get("kubespawner_override", {}), dict):
            raise ProfileListError(f"{where}: kubespawner_override is not a dict")
        options = profile.get("profile_options", {})
        if not isinstance(options, dict):
            raise ProfileListError(f"{where}: profile_options is not a dict of option name to option")
        for name, option in options.items():
            choices = option.get("choices", {}) if isinstance(option, dict) else None
            if not isinstance(choices, dict) or not all(isinstance(c, dict) for c in choices.values()):
                raise ProfileListError(f"{where}: option {name} is not a dict whose choices are a dict of dicts")


@dataclass
class SpawnRequest:
    # The profile KubeSpawner applies: the one named, else the hub's default
    # (None only when the hub has no profile_list). The policy judges this
    # one, so a default profile a user may not select is refused like a named one.
    profile: str | None
    # The selected profile's options, as KubeSpawner reads them from user_options.
    profile_options: dict[str, str] = field(default_factory=dict)
    # Values in the form the spawner's traits take (bytes, cores, counts).
    overrides: dict[str, object] = field(default_factory=dict)
    # What the caller sent for each override key, before parsing.
    raw: dict[str, object] = field(default_factory=dict)
    # False when the caller named no profile and `profile` is the hub's default.
    profile_named: bool = True


def selected_profile(slug: str | None, profile_list: list[dict]) -> dict | None:
    """The profile KubeSpawner applies: the one named, else the default."""
    for profile in profile_list:
        if profile.get("slug") == slug or (not slug and profile.get("default")):
            return profile
    return None


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_json(key: str, value: object, depth: int = 0) -> None:
    # JSON has no NaN or Infinity, but Python's json module reads them.
    if depth > 8:
        raise RequestError(f"{_short(key)}: value is nested too deeply")
    if isinstance(value, float) and not math.isfinite(value):
        raise RequestError(f"{_short(key)}: {value!r} is not a finite number")
    if isinstance(value, dict):
        for v in value.values():
            _check_json(key, v, depth + 1)
    elif isinstance(value, list):
        for v in value:
            _check_json(key, v, depth + 1)


def _check_size(user_options: dict, max_bytes: int | None, max_keys: int) -> None:
    """Bounds on the whole request, nested maps and lists included (an
    `extra_resource_limits` of 3,000 names is as costly to the policy as
    3,000 top-level keys), before anything else reads it."""
    if max_bytes is not None:
        try:
            size = len(json.dumps(user_options, allow_nan=True))
        except (TypeError, ValueError, RecursionError):
            raise RequestError("user_options is not JSON") from None
        if size > max_bytes:
            raise RequestError(f"user_options is {size} bytes; at most {max_bytes} are accepted")
    count = _entries(user_options, 0)
    if count > max_keys:
        raise RequestError(
            f"user_options has {count} keys and list items (nested ones included); at most {max_keys} are accepted"
        )


def _entries(value: object, depth: int) -> int:
    """Keys and list items in `value`, at every depth; RequestError for a
    string longer than MAX_STRING or nesting deeper than MAX_DEPTH."""
    if depth > MAX_DEPTH:
        raise RequestError(f"user_options is nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            raise RequestError(f"a string of {len(value)} characters; at most {MAX_STRING} are accepted: {_short(value)!r}")
        return 0
    if isinstance(value, dict):
        return sum(1 + _entries(k, depth + 1) + _entries(v, depth + 1) for k, v in value.items())
    if isinstance(value, list | tuple):
        return sum(1 + _entries(v, depth + 1) for v in value)
    return 0


def every_override(profile: dict | None) -> list[dict]:
    """Every kubespawner_override a profile can apply: its own, each
    option's choices', each option's unlisted choice's."""
    if not profile:
        return []
    overrides = [profile.get(OVERRIDE_KEY, {})]
    for option in profile.get("profile_options", {}).values():
        overrides += [choice.get(OVERRIDE_KEY, {}) for choice in option.get("choices", {}).values()]
        overrides.append(option.get("unlisted_choice", {}).get(OVERRIDE_KEY, {}))
    return overrides


def _profile_options(user_options: dict, profile: dict | None) -> dict[str, str]:
    """The selected profile's option choices, checked the way KubeSpawner
    checks them when a ``profile`` is named, and also when it is not (where
    KubeSpawner would skip its checks but still apply the choices)."""
    chosen: dict[str, str] = {}
    if profile is None:
        return chosen
    for name, option in profile.get("profile_options", {}).items():
        unlisted_key = name + UNLISTED_SUFFIX
        for key in (name, unlisted_key):
            if key in user_options:
                if not isinstance(user_options[key], str):
                    raise RequestError(f"{key}: a profile option's choice must be a string")
                chosen[key] = user_options[key]
        choices = option.get("choices", {})
        unlisted = option.get("unlisted_choice", {})
        listed = ", ".join(choices) or "(none)"
        if chosen.get(unlisted_key):
            if not unlisted.get("enabled"):
                raise RequestError(
                    f"{unlisted_key}: option {name} of profile {profile['slug']} takes no free-form choice; "
                    f"choose one of: {listed}"
                )
            regex = unlisted.get("validation_regex")
            if regex and not re.match(regex, chosen[unlisted_key]):
                hint = unlisted.get("validation_message") or f"it must match {regex}"
                raise RequestError(f"{unlisted_key}: {_short(chosen[unlisted_key])!r} is not accepted: {hint}")
        elif chosen.get(name) and chosen[name] not in choices:
            raise RequestError(
                f"{name}: no choice {_short(chosen[name])!r} for option {name} of profile {profile['slug']}; "
                f"choose one of: {listed}"
            )
        elif not chosen.get(name) and not choices:
            raise RequestError(f"{unlisted_key}: option {name} of profile {profile['slug']} needs a value")
    return chosen


def parse_request(
    user_options: object, profile_list: list[dict], max_bytes: int | None = None, max_keys: int = MAX_REQUEST_KEYS
) -> SpawnRequest:
    """Split and parse ``user_options``.

    ``profile_list`` is KubeSpawner's initialised profile list (slugs filled
    in, one default), so the selected profile's option keys are known.
    """
    if user_options is None:
        user_options = {}
    if not isinstance(user_options, dict):
        raise RequestError("user_options must be a JSON object")
    _check_size(user_options, max_bytes, max_keys)

    slug = user_options.get(PROFILE_KEY)
    if slug is not None and not (isinstance(slug, str) and slug):
        raise RequestError(f"{PROFILE_KEY}: must be a profile slug (a non-empty string)")
    if slug and not profile_list:
        raise RequestError(f"{PROFILE_KEY}: {_short(slug)!r} requested, but this hub has no profiles")
    if slug and not any(p.get("slug") == slug for p in profile_list):
        slugs = ", ".join(p["slug"] for p in profile_list)
        raise RequestError(f"{PROFILE_KEY}: no such profile {_short(slug)!r}; choose one of: {slugs}")

    profile = selected_profile(slug, profile_list)
    profile_options = _profile_options(user_options, profile)
    option_keys = {
        key for name in (profile or {}).get("profile_options", {}) for key in (name, name + UNLISTED_SUFFIX)
    }

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
            raise RequestError(
                f"{_short(key)}: given twice with different values (top level and {OVERRIDE_KEY})"
            )
        requested[key] = value

    request = SpawnRequest(
        profile=profile["slug"] if profile else None, profile_options=profile_options, profile_named=bool(slug)
    )
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
