"""Find, or install, the pinned OPA binary.

Order: $JHPOLICY_OPA (checked: it must exist and run as OPA), the tools
folder (a source checkout's .tools/bin; for an installed package the user's
cache, $XDG_CACHE_HOME/jhpolicy/bin or ~/.cache/jhpolicy/bin, never
site-packages), an `opa` on PATH of the pinned version, `go install` from the
Go module proxy, the official release binary (needs internet), else a clear
error.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

from .shipped import PACKAGE

OPA_VERSION = "1.22.3"
OPA_MODULE = "github.com/open-policy-agent/opa"
RELEASE_URL = "https://github.com/open-policy-agent/opa/releases/download/v{version}/opa_{os}_{arch}_static"


class OPANotFound(RuntimeError):
    pass


def default_tools_dir() -> Path:
    """`.tools/bin` of a source checkout of jhpolicy, else the user's cache."""
    checkout = PACKAGE.parent
    if is_checkout(checkout):
        return checkout / ".tools" / "bin"
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "jhpolicy" / "bin"


def is_checkout(folder: Path) -> bool:
    """A source checkout of jhpolicy: its own pyproject.toml, and not an
    installation (where another package may have left a pyproject.toml)."""
    if {"site-packages", "dist-packages"} & set(folder.parts):
        return False
    try:
        text = (folder / "pyproject.toml").read_text()
    except OSError:
        return False
    return re.search(r'^name\s*=\s*"jhpolicy"\s*$', text, re.M) is not None


def version_of(binary: str | os.PathLike) -> str | None:
    try:
        out = subprocess.run([str(binary), "version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for line in out.splitlines():
        if line.startswith("Version:"):
            return line.split(":", 1)[1].strip()
    return None


def find_opa(tools_dir: Path | None = None) -> str | None:
    env = os.environ.get("JHPOLICY_OPA")
    if env:
        return checked(env, "JHPOLICY_OPA")
    local = (tools_dir or default_tools_dir()) / "opa"
    if local.exists() and version_of(local) == OPA_VERSION:
        return str(local)
    on_path = shutil.which("opa")
    if on_path and version_of(on_path) == OPA_VERSION:
        return on_path
    return None


def checked(binary: str, named_by: str) -> str:
    """`binary` if it exists and runs as OPA; a version other than the pinned
    one is allowed (an admin's own OPA), with a warning."""
    if not Path(binary).is_file():
        raise OPANotFound(f"{named_by}={binary}: no such file")
    version = version_of(binary)
    if version is None:
        raise OPANotFound(f"{named_by}={binary}: does not run as OPA (`{binary} version` printed no version)")
    if version != OPA_VERSION:
        print(f"jhpolicy: {named_by}={binary} is OPA {version}; jhpolicy is tested with {OPA_VERSION}", file=sys.stderr)
    return binary


def ensure_opa(tools_dir: Path | None = None, log=None) -> str:
    log = log or (lambda message: print(message, file=sys.stderr))
    found = find_opa(tools_dir)
    if found:
        return found
    tools_dir = tools_dir or default_tools_dir()
    tools_dir.mkdir(parents=True, exist_ok=True)
    target = tools_dir / "opa"
    errors = []
    go = shutil.which("go")
    if go:
        log(f"jhpolicy: building OPA {OPA_VERSION} with go install (a minute or two)...")
        env = dict(os.environ, GOBIN=str(tools_dir), CGO_ENABLED="0")
        result = subprocess.run(
            [go, "install", f"{OPA_MODULE}@v{OPA_VERSION}"], env=env, capture_output=True, text=True
        )
        if result.returncode == 0 and version_of(target) == OPA_VERSION:
            return str(target)
        errors.append(f"go install failed: {result.stderr.strip()[-500:]}")
    else:
        errors.append("go is not installed")
    url = RELEASE_URL.format(version=OPA_VERSION, os=platform.system().lower(), arch=_arch())
    try:
        log(f"jhpolicy: downloading {url}")
        with urllib.request.urlopen(url + ".sha256", timeout=60) as response:
            expected = response.read().decode().split()[0]
        with urllib.request.urlopen(url, timeout=60) as response:
            payload = response.read()
        if hashlib.sha256(payload).hexdigest() != expected:
            raise OSError(f"checksum mismatch for {url}")
        target.write_bytes(payload)
        target.chmod(0o755)
        if version_of(target) == OPA_VERSION:
            return str(target)
        errors.append(f"downloaded {url}, but it does not report version {OPA_VERSION}")
    except OSError as e:
        errors.append(f"download of {url} failed: {e}")
    raise OPANotFound(
        f"OPA {OPA_VERSION} is needed and could not be installed:\n  - "
        + "\n  - ".join(errors)
        + "\nInstall it yourself and put it on PATH, or set JHPOLICY_OPA to its path."
    )


def _arch() -> str:
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
