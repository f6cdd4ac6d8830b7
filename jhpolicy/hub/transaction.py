"""What a spawn sets on the spawner's traits, and putting it back.

A request's profile (and its options' choices) and then the decision set
traits on the spawner. A refused or failed spawn must leave the
configuration as it was, for the next spawn and for the spawn page's
borrowed spawner: what a request can change is copied before anything is
set (:class:`Snapshot`) and restored when it fails.
"""

from __future__ import annotations

from traitlets import TraitError

from ..core.decision import PolicyBroken
from ..core.pod import trait_value
from ..core.quantities import PARSERS
from ..core.request import every_override
from . import upstream


def changeable_keys(ceiling, profile: dict | None) -> set[str]:
    """What a request can change: what a decision may set (the ceiling), and
    what the selected profile's overrides (and its options' overrides) set."""
    return set(ceiling).union(*every_override(profile))


class Snapshot:
    """The spawner's values of `keys`, as they were."""

    def __init__(self, spawner, keys) -> None:
        self.values = {name: _copy_containers(getattr(spawner, name)) for name in keys if spawner.has_trait(name)}

    def restore(self, spawner) -> None:
        for name, value in self.values.items():
            try:
                if getattr(spawner, name) != value:
                    spawner.set_trait(name, value)
            except Exception:
                spawner.log.exception("jhpolicy: could not restore %s on %s", name, upstream.log_name(spawner))


def apply(spawner, final: dict, decided: dict, requested: dict) -> dict:
    """Set the pod's final values on the spawner: every parsed key
    explicitly (so the pod says what Kubernetes would otherwise infer),
    other ceiling keys where the decision or the request set them. Returns
    what changed. A value the spawner's trait rejects is the policy's bug."""
    applied = {}
    for key, value in final.items():
        if key in PARSERS:
            value = trait_value(key, value)
        elif key in decided or key in requested:
            source = decided if key in decided else requested
            value, current = source[key], getattr(spawner, key, None)
            if isinstance(value, dict) and isinstance(current, dict):
                value = {**current, **value}
        else:
            continue
        before = getattr(spawner, key, None)
        try:
            setattr(spawner, key, value)
        except TraitError as e:
            raise PolicyBroken(f"decided value for {key} rejected by the spawner: {e}") from None
        if getattr(spawner, key, None) != before:
            applied[key] = getattr(spawner, key)
    return applied


def _copy_containers(value):
    # KubeSpawner's profile overrides mutate dicts in place, so containers are
    # copied; anything else (callables, methods bound to the spawner) is kept
    # by reference: deep-copying a bound method would copy the whole spawner.
    if isinstance(value, dict):
        return {k: _copy_containers(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return type(value)(_copy_containers(v) for v in value)
    return value
