"""The pod a request would give: the values the policy decides on, and checks
that the pod finally built carries exactly the decided ones.

A pod's image and resources come from several layers: the admin's config
(with JupyterHub's ``group_overrides`` and ``pre_spawn_hook``), the selected
profile, its options (a listed choice, or an unlisted choice the user typed),
and the request. The policy judges the result of all of them, so
:func:`prospective` works out each ceiling key's value as the pod would get
it if the request were granted as is, and where it came from.

Values are normalised to what Kubernetes will do with them:

- a CPU or memory limit that is unset or 0 is ``None``: *unlimited*
  (KubeSpawner leaves the limit out for any falsy value);
- an unset guarantee with a limit is the limit (Kubernetes sets a missing
  request to the limit), with the source ``"limit"``;
- extended resources (GPUs) are whole numbers, and their guarantees equal
  their limits, as Kubernetes requires.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

from .decision import PolicyBroken
from .quantities import LIMIT_OF, InvalidValue, check_resource_name, kubernetes_quantity, parse_amount
from .request import UNLISTED_SUFFIX, SpawnRequest
from .users import user_groups

EXTRA_KEYS = ("extra_resource_limits", "extra_resource_guarantees")


class InvalidPod(ValueError):
    """The pod would be refused by Kubernetes; ``str()`` names every problem."""


@dataclass
class Pod:
    """Ceiling key -> normalised value, and where each value came from.

    ``sources[key]`` is one of "config", "group_overrides", "profile",
    "profile_option", "unlisted_choice", "request", "limit" (a guarantee
    that follows its limit); for the extended-resource maps it is a map of
    resource name to one of those.
    """

    values: dict[str, object] = field(default_factory=dict)
    sources: dict[str, object] = field(default_factory=dict)


def _layers(spawner, request: SpawnRequest, profile: dict | None) -> list[tuple[str, dict]]:
    """(source, overrides) in the order KubeSpawner applies them, last wins."""
    layers = []
    group_overrides = getattr(spawner, "group_overrides", None)
    if isinstance(group_overrides, dict):
        groups = {g if isinstance(g, str) else g.name for g in user_groups(spawner.user)}
        for key in sorted(group_overrides):
            entry = group_overrides[key]
            if groups & set(entry.get("groups", [])):
                layers.append(("group_overrides", entry.get("spawner_override", {})))
    if profile:
        layers.append(("profile", profile.get("kubespawner_override", {})))
        for name, option in profile.get("profile_options", {}).items():
            if request.profile_options.get(name + UNLISTED_SUFFIX):
                layers.append(("unlisted_choice", option.get("unlisted_choice", {}).get("kubespawner_override", {})))
            else:
                choice = request.profile_options.get(name) or next(
                    (c for c, v in option.get("choices", {}).items() if v.get("default")), None
                )
                if choice is not None:
                    layers.append(("profile_option", option["choices"][choice].get("kubespawner_override", {})))
    layers.append(("request", request.overrides))
    return layers


def _sources(key: str, layers: list[tuple[str, dict]], value: object) -> object:
    if key in EXTRA_KEYS:
        per_name = {name: "config" for name in value}  # a resource no layer named is the admin's
        for source, overrides in layers:
            if isinstance(overrides.get(key), dict):
                per_name.update({name: source for name in overrides[key] if name in per_name})
        return per_name
    found = "config"
    for source, overrides in layers:
        if key in overrides:
            found = source
    return found


def _normalise(key: str, value: object, problems: list[str]) -> object:
    if key in ("cpu_limit", "cpu_guarantee"):
        return float(value) if value else None
    if key in ("mem_limit", "mem_guarantee"):
        return int(value) if value else None
    if key in EXTRA_KEYS:
        amounts = {}
        for name, amount in (value or {}).items():
            try:
                check_resource_name(key, name)
                amounts[name] = parse_amount(f"{key}[{name}]", amount)
            except InvalidValue as e:
                problems.append(e.problem)
        return amounts
    return _jsonable(value)


def _jsonable(value: object) -> object:
    try:
        json.dumps(value, allow_nan=False)
        return value
    except (TypeError, ValueError):
        return repr(value)


def prospective(spawner, request: SpawnRequest, profile: dict | None, ceiling) -> Pod:
    """The ceiling keys' values if the request were granted as is.

    Call after KubeSpawner applied the profile (so the spawner's attributes
    hold config + group_overrides + profile + options); the request's
    overrides are laid over them here, without touching the spawner.
    """
    layers = _layers(spawner, request, profile)
    pod = Pod()
    problems: list[str] = []
    for key in sorted(ceiling):
        current = getattr(spawner, key, None)
        if key in request.overrides:
            wanted = request.overrides[key]
            current = {**current, **wanted} if isinstance(current, dict) and isinstance(wanted, dict) else wanted
        pod.values[key] = _normalise(key, current, problems)
        pod.sources[key] = _sources(key, layers, pod.values[key])
    _guarantees_follow_limits(pod.values, pod.sources)
    _refuse_if(problems + kubernetes_problems(pod.values, decided=False))
    return pod


def _refuse_if(problems: list[str]) -> None:
    if problems:
        raise InvalidPod("the pod would be refused by Kubernetes: " + "; ".join(problems))


def _guarantees_follow_limits(values: dict, sources: dict | None = None) -> None:
    """Kubernetes sets a missing request to the limit: say so explicitly."""
    for guarantee, limit in LIMIT_OF.items():
        if guarantee not in values or limit not in values:
            continue
        if guarantee in EXTRA_KEYS:
            for name, amount in values[limit].items():
                if name not in values[guarantee]:
                    values[guarantee][name] = amount
                    if sources is not None:
                        sources[guarantee][name] = "limit"
        elif values[guarantee] is None and values[limit] is not None:
            values[guarantee] = values[limit]
            if sources is not None:
                sources[guarantee] = "limit"


def kubernetes_problems(values: dict, decided: bool) -> list[str]:
    """What the API server would refuse in these values.

    Before the decision a guarantee above its limit is left to the policy
    (the shipped one lowers it); in the decided values it is a problem.
    """
    problems = []
    limits = values.get("extra_resource_limits", {})
    for name, amount in values.get("extra_resource_guarantees", {}).items():
        if name not in limits:
            problems.append(f"extra_resource_guarantees[{name}] has no limit; Kubernetes needs one equal to it")
        elif limits[name] != amount:
            problems.append(
                f"extra_resource_guarantees[{name}] {amount} differs from its limit {limits[name]}; "
                "Kubernetes needs them equal"
            )
    if decided:
        for guarantee, limit in LIMIT_OF.items():
            if guarantee in EXTRA_KEYS:
                continue  # equal, checked above
            g, l = values.get(guarantee), values.get(limit)
            if g is not None and l is not None and g > l:
                problems.append(f"{guarantee} {g} is above {limit} {l}")
    return problems


def decided(values: dict, overrides: dict, sources: dict | None = None) -> dict:
    """The final values: the pod as the policy saw it (``Pod.values``), with
    its decision laid over. A guarantee nobody set (source "limit") follows
    the decided limit, as Kubernetes would make it, unless the decision sets
    it: a policy that lowers only a limit lowers what follows it too."""
    final = {key: (dict(v) if isinstance(v, dict) else v) for key, v in values.items()}
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(final.get(key), dict):
            final[key].update(value)
        else:
            final[key] = value
    for guarantee, limit in LIMIT_OF.items():
        if guarantee not in final or limit not in final or not sources:
            continue
        source, decided_here = sources.get(guarantee), overrides.get(guarantee)
        if guarantee in EXTRA_KEYS:
            for name, follows in (source or {}).items():
                if follows == "limit" and name in final[limit] and name not in (decided_here or {}):
                    final[guarantee][name] = final[limit][name]
        elif source == "limit" and guarantee not in overrides:
            final[guarantee] = final[limit]
    _guarantees_follow_limits(final)
    _refuse_if(kubernetes_problems(final, decided=True))
    return final


def approved(pod: Pod, overrides: dict) -> dict:
    """The final values of a pod a decision allowed. A pod Kubernetes would
    refuse is the caller's fault (InvalidPod, a 400) if they asked for it,
    the policy's (PolicyBroken, a 503) if its overrides made it."""
    try:
        return decided(pod.values, overrides, pod.sources)
    except InvalidPod as e:
        decided(pod.values, {}, pod.sources)  # raises InvalidPod if the request alone is the problem
        raise PolicyBroken(f"decision.overrides: {e}") from None


def trait_value(key: str, value: object) -> object:
    """A normalised value in the form the spawner's trait takes."""
    if key in EXTRA_KEYS:
        # KubeSpawner puts these straight into the pod, where Kubernetes expects quantity strings.
        return {name: str(amount) for name, amount in value.items()}
    return value


# --- the built pod ----------------------------------------------------------


def container_mismatches(container, final: dict) -> list[str]:
    """Where the notebook container's image and resources differ from the decided values.

    Anything after the decision that could change them (``extra_container_config``,
    ``modify_pod_hook``) shows here.
    """
    found = []
    if "image" in final and container.image != final["image"]:
        found.append(f"image {container.image!r} is not the decided {final['image']!r}")
    resources = container.resources
    for field_name, keys in (
        ("limits", {"cpu": "cpu_limit", "memory": "mem_limit"}),
        ("requests", {"cpu": "cpu_guarantee", "memory": "mem_guarantee"}),
    ):
        actual = {
            name: amount
            for name, amount in (_field(resources, field_name) or {}).items()
            if name in ("cpu", "memory") or "/" in name
        }
        expected = {name: final[key] for name, key in keys.items() if key in final and final[key] is not None}
        extra_key = "extra_resource_limits" if field_name == "limits" else "extra_resource_guarantees"
        if extra_key in final:
            expected.update(final[extra_key])
        for name in sorted(set(actual) | set(expected)):
            if name not in expected:
                # Judged only where the ceiling lets the policy decide it.
                if (keys[name] if name in keys else extra_key) in final:
                    found.append(f"{field_name}.{name} {actual[name]!r} was not decided")
            elif name not in actual:
                found.append(f"{field_name}.{name} is missing (decided {expected[name]!r})")
            elif not _same_quantity(actual[name], expected[name]):
                found.append(f"{field_name}.{name} {actual[name]!r} is not the decided {expected[name]!r}")
    return found


def _field(resources, name: str):
    # extra_container_config can leave a plain dict where KubeSpawner puts a model.
    return resources.get(name) if isinstance(resources, dict) else getattr(resources, name, None)


def _same_quantity(actual: object, expected: object) -> bool:
    try:
        return math.isclose(kubernetes_quantity(actual), float(expected), rel_tol=1e-9)
    except (InvalidValue, TypeError, ValueError):
        return False

