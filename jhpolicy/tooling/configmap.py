"""Build the ConfigMap that delivers policies and data to the OPA sidecar.

A ConfigMap is flat (keys are file names), so the policy folder must be too.
Test files stay out: OPA in the hub pod needs the policy, not its tests.
"""

from __future__ import annotations

import base64
import hashlib
import re
import zipfile
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


# The API server refuses a ConfigMap whose data is larger than this (the
# bytes of data and binaryData together); etcd refuses a request above 1.5 MiB.
MAX_CONFIGMAP_BYTES = 1024 * 1024
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
WHEELS_CONFIG_KEY = "00-jhpolicy-wheels"
# The first line of the snippet wheels-configmap writes (the stack's placeholder under the same key stops the hub).
WHEELS_SNIPPET_HEADER = "# Made by `jhpolicy wheels-configmap`"


def wheels_manifest(wheels: list[Path], name: str, namespace: str | None = None) -> tuple[dict, dict]:
    """The ConfigMap of helm-values/jhpolicy-no-image-build.yaml (pure-Python
    wheels the hub imports from their files), and the values that make the
    hub import exactly these, by key and sha256 (WHEELS_CONFIG_KEY in
    hub.extraConfig): a wheel added to or changed in the ConfigMap later is
    never imported, and a listed one missing or changed stops the hub."""
    if not DNS_SUBDOMAIN.fullmatch(name) or len(name) > 253:
        raise ValueError(f"--name {name!r}: not a Kubernetes object name (lowercase letters, digits, '-' and '.')")
    binary: dict[str, bytes] = {}
    for wheel in wheels:
        if not wheel.is_file():
            raise ValueError(f"{wheel}: no such file")
        if not wheel.name.endswith("-none-any.whl"):
            raise ValueError(f"{wheel}: not a pure-Python wheel (*-none-any.whl); the hub imports these from the file")
        if not zipfile.is_zipfile(wheel):
            raise ValueError(f"{wheel}: not a wheel (not a zip archive)")
        # A ConfigMap key is letters, digits, '-', '_' and '.': a local version's '+' becomes '_'.
        key = re.sub(r"[^-._a-zA-Z0-9]", "_", wheel.name)
        if key in binary:
            raise ValueError(f"{wheel}: a second wheel named {key}: give each wheel once")
        binary[key] = wheel.read_bytes()
    names = {n.split("-")[0].lower().replace("_", "-") for n in binary}
    if "jhpolicy" not in names:
        raise ValueError("no jhpolicy wheel among them (python -m pip wheel --no-deps -w dist . makes one)")
    size = sum(len(b) for b in binary.values())
    if size > MAX_CONFIGMAP_BYTES:
        raise ValueError(f"{size} bytes of wheels: more than a ConfigMap holds ({MAX_CONFIGMAP_BYTES})")
    pins = {key: hashlib.sha256(data).hexdigest() for key, data in sorted(binary.items())}
    values = {"hub": {"extraConfig": {WHEELS_CONFIG_KEY: _import_snippet(pins)}}}
    return configmap(name, {}, namespace, binary), values


def _import_snippet(pins: dict[str, str]) -> str:
    """hub.extraConfig code: each pinned wheel of the mount first on sys.path,
    after checking its sha256; anything else stops the hub, naming why."""
    listing = "".join(f"    {key!r}: {digest!r},\n" for key, digest in pins.items())
    return (
        f"{WHEELS_SNIPPET_HEADER}: import exactly these wheels of the\n"
        "# jhpolicy-wheels ConfigMap, each only if its sha256 is the one listed here.\n"
        "import hashlib, os, sys\n"
        "_jhpolicy_wheels = {\n" + listing + "}\n"
        "_folder = os.path.join(os.path.dirname(os.path.realpath(__file__)), 'jhpolicy-wheels')\n"
        "_paths = []\n"
        "for _key, _digest in _jhpolicy_wheels.items():\n"
        "    _path = os.path.join(_folder, _key)\n"
        "    try:\n"
        "        with open(_path, 'rb') as _file:\n"
        "            _found = hashlib.sha256(_file.read()).hexdigest()\n"
        "    except OSError as _e:\n"
        "        raise SystemExit(f'jhpolicy: wheel {_path} cannot be read ({_e}): not starting') from None\n"
        "    if _found != _digest:\n"
        "        raise SystemExit(f'jhpolicy: wheel {_path} has sha256 {_found}, not {_digest}: not starting')\n"
        "    _paths.append(_path)\n"
        "sys.path[:0] = _paths\n"
    )


class _BlockDumper(yaml.SafeDumper):
    pass


def _str(dumper, value):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _str)


def to_yaml(document: dict) -> str:
    return yaml.dump(document, Dumper=_BlockDumper, sort_keys=False)
