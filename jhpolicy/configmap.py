"""Build the ConfigMap that delivers policies and data to the OPA sidecar.

A ConfigMap is flat (keys are file names), so the policy folder must be too.
Test files stay out: OPA in the hub pod needs the policy, not its tests.
"""

from __future__ import annotations

import base64
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


def configmap(name: str, data: dict[str, str], namespace: str | None = None, binary: dict[str, bytes] | None = None) -> dict:
    metadata = {"name": name, "labels": {"app.kubernetes.io/name": "jhpolicy"}}
    if namespace:
        metadata["namespace"] = namespace
    document = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}
    if binary:
        document["binaryData"] = {key: base64.b64encode(value).decode() for key, value in binary.items()}
    return document


# The API server refuses a ConfigMap whose data is larger than this.
MAX_CONFIGMAP_BYTES = 1024 * 1024


def wheels_manifest(wheels: list[Path], name: str, namespace: str | None = None) -> dict:
    """The ConfigMap of helm-values/jhpolicy-no-image-build.yaml: pure-Python
    wheels the hub imports from their files."""
    binary = {}
    for wheel in wheels:
        if not wheel.is_file():
            raise ValueError(f"{wheel}: no such file")
        if not wheel.name.endswith("-none-any.whl"):
            raise ValueError(f"{wheel}: not a pure-Python wheel (*-none-any.whl); the hub imports these from the file")
        binary[wheel.name] = wheel.read_bytes()
    names = {n.split("-")[0].lower().replace("_", "-") for n in binary}
    if "jhpolicy" not in names:
        raise ValueError("no jhpolicy wheel among them (python -m pip wheel --no-deps -w dist . makes one)")
    size = sum(len(b) for b in binary.values())
    if size > MAX_CONFIGMAP_BYTES:
        raise ValueError(f"{size} bytes of wheels: more than a ConfigMap holds ({MAX_CONFIGMAP_BYTES})")
    return configmap(name, {}, namespace, binary)


class _BlockDumper(yaml.SafeDumper):
    pass


def _str(dumper, value):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _str)


def to_yaml(document: dict) -> str:
    return yaml.dump(document, Dumper=_BlockDumper, sort_keys=False)
