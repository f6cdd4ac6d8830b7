"""Build the ConfigMap that delivers policies and data to the OPA sidecar.

A ConfigMap is flat (keys are file names), so the policy folder must be too.
Test files stay out: OPA in the hub pod needs the policy, not its tests.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

POLICY_SUFFIXES = (".rego", ".json", ".yaml", ".yml")
_KEY_RE = re.compile(r"^[-._a-zA-Z0-9]+$")


def policy_files(folder: Path) -> dict[str, str]:
    files = {}
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.suffix not in POLICY_SUFFIXES or path.stem.endswith("_test"):
            continue
        if path.parent != folder:
            raise ValueError(f"{path}: a ConfigMap is flat; move it to {folder} or give it its own ConfigMap")
        if not _KEY_RE.match(path.name):
            raise ValueError(f"{path.name}: not a valid ConfigMap key")
        files[path.name] = path.read_text()
    if not files:
        raise ValueError(f"{folder}: no .rego or data files")
    return files


def manifest(folder: Path, name: str, namespace: str | None = None) -> dict:
    return configmap(name, policy_files(folder), namespace)


def configmap(name: str, data: dict[str, str], namespace: str | None = None) -> dict:
    metadata = {"name": name, "labels": {"app.kubernetes.io/name": "jhpolicy"}}
    if namespace:
        metadata["namespace"] = namespace
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}


class _BlockDumper(yaml.SafeDumper):
    pass


def _str(dumper, value):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _str)


def to_yaml(document: dict) -> str:
    return yaml.dump(document, Dumper=_BlockDumper, sort_keys=False)
