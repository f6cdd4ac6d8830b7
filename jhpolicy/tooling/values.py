"""Combine Helm values files without losing anyone's lists.

Helm merges maps but *replaces* lists: with `-f config.yaml -f
helm-values/jhpolicy.yaml`, a user's own `hub.extraVolumes`,
`hub.extraVolumeMounts`, `hub.extraContainers` or list-form `hub.extraEnv`
vanish, and the install fails on a mount whose volume is gone. This joins
them instead: files are applied in order, maps merge as in Helm, and where
two files both have a list of named entries (`name:`), the lists are joined,
an entry of a later file replacing one of the same name. `hub.extraEnv` in
map form and in list form are joined into the list form.
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from .shipped import shipped

# The values files jhpolicy ships (helm-values/), applied *before* the
# admin's own (`jhpolicy values --stack NAME -f config.yaml`), so that
# nothing the admin's files set is replaced (hub.image included); lists of
# named entries are joined either way (see merge).
STACKS = {
    "plain": ["jhpolicy.yaml", "hub-image.yaml"],
    "token-auth": ["jhpolicy.yaml", "jhpolicy-token-auth.yaml", "hub-image.yaml"],
    "bundles": ["jhpolicy.yaml", "jhpolicy-bundles.yaml", "hub-image.yaml"],
    # The chart's own hub image, jhpolicy's wheels from a ConfigMap (jhpolicy wheels-configmap).
    "no-image-build": ["jhpolicy.yaml", "jhpolicy-no-image-build.yaml"],
    "no-image-build-token-auth": ["jhpolicy.yaml", "jhpolicy-token-auth.yaml", "jhpolicy-no-image-build.yaml"],
}

# hub-image.yaml's name for the image built from hub-image/Dockerfile: a
# placeholder the admin's values replace with where they pushed theirs.
PLACEHOLDER_IMAGE = "registry.example.org/jupyterhub/k8s-hub-jhpolicy"


def shipped_values() -> Path:
    """helm-values/: inside the wheel, or the checkout's."""
    found = shipped("helm-values")
    if found is None:
        raise ValuesError("jhpolicy's values files (helm-values/) are missing from this installation")
    return found


def stack_files(name: str) -> list[Path]:
    folder = shipped_values()
    return [folder / file for file in STACKS[name]]


class ValuesError(ValueError):
    pass


def _named(items) -> bool:
    return isinstance(items, list) and all(isinstance(i, dict) and isinstance(i.get("name"), str) for i in items)


def _env_list(env) -> list[dict]:
    """hub.extraEnv in list form: map entries are `NAME: value` or `NAME: {valueFrom: ...}`."""
    if isinstance(env, list):
        return env
    out = []
    for name, value in (env or {}).items():
        out.append({"name": name, **value} if isinstance(value, dict) else {"name": name, "value": value})
    return out


def _join(base: list[dict], later: list[dict]) -> list[dict]:
    joined = list(base)
    index = {item["name"]: i for i, item in enumerate(joined)}
    for item in later:
        if item["name"] in index:
            joined[index[item["name"]]] = item
        else:
            index[item["name"]] = len(joined)
            joined.append(item)
    return joined


def merge(base: dict, later: dict, path: str = "", origin: dict | None = None, source: str = "") -> dict:
    """`later` laid over `base`, as above. With `origin`, each value's
    dotted path is mapped to `source`, the file that set it."""
    merged = dict(base)
    for key, value in later.items():
        where = f"{path}.{key}" if path else key
        current = merged.get(key)
        if origin is not None and not isinstance(value, dict):
            origin[where] = source
        if value is None:
            merged.pop(key, None)  # Helm: null deletes the key
        elif where == "hub.extraEnv" and (isinstance(value, list) or isinstance(current, list)) and current is not None:
            merged[key] = _join(_env_list(current), _env_list(value))
        elif isinstance(value, dict) and isinstance(current, dict):
            merged[key] = merge(current, value, where, origin, source)
        elif _named(value) and _named(current):
            merged[key] = _join(current, value)
        else:
            merged[key] = copy.deepcopy(value)
            if origin is not None and isinstance(value, dict):
                origin.update({f"{where}.{k}": source for k in _leaves(value)})
    return merged


def _leaves(doc: dict, prefix: str = ""):
    for key, value in doc.items():
        if isinstance(value, dict) and value:
            yield from _leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


def combine(texts: list[str], sources: list[str] | None = None, origin: dict | None = None) -> dict:
    """The files' values in order, later ones laid over earlier ones; with
    `origin`, which of `sources` set each value (`jhpolicy values --explain`)."""
    values: dict = {}
    for i, text in enumerate(texts):
        doc = yaml.safe_load(text) or {}
        if not isinstance(doc, dict):
            where = f"{sources[i]}: " if sources else ""
            raise ValuesError(f"{where}a values file must be a YAML mapping")
        values = merge(values, doc, origin=origin, source=sources[i] if sources else "")
    return values


def placeholder_image(values: dict) -> bool:
    image = ((values.get("hub") or {}).get("image") or {})
    return isinstance(image, dict) and image.get("name") == PLACEHOLDER_IMAGE
