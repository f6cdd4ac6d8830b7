"""The wheel of the jhpolicy that is running, for `jhpolicy init` to keep
beside the CI workflow it writes: that workflow then installs exactly the
jhpolicy that made the folder, whether or not a package index carries it.

An installed (non-editable) jhpolicy is packed back into a wheel from the
files its RECORD lists (less what the installer added); a source checkout
(an editable install) is built with `pip wheel`, as its pyproject says.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

# dist-info files an installer writes, not part of the wheel.
INSTALLER_FILES = {"INSTALLER", "REQUESTED", "direct_url.json", "RECORD"}


class OwnWheelError(Exception):
    pass


def write_own_wheel(folder: Path) -> Path:
    """Write jhpolicy's wheel into `folder`; its path."""
    dist = metadata.distribution("jhpolicy")
    folder.mkdir(parents=True, exist_ok=True)
    direct = dist.read_text("direct_url.json")
    if direct and json.loads(direct).get("dir_info", {}).get("editable"):
        return _built(Path(json.loads(direct)["url"].removeprefix("file://")), folder)
    return _packed(dist, folder)


def _packed(dist, folder: Path) -> Path:
    name = f"jhpolicy-{dist.version}-py3-none-any.whl"
    files = [f for f in dist.files or [] if not str(f).startswith("..") and "__pycache__" not in f.parts
             and not (f.parts[0].endswith(".dist-info") and f.name in INSTALLER_FILES)]
    if not files:
        raise OwnWheelError("this installation of jhpolicy lists no files (RECORD): reinstall it from its wheel")
    info = next(f.parts[0] for f in files if f.parts[0].endswith(".dist-info"))
    record = []
    target = folder / name
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as wheel:
        for f in sorted(files, key=str):
            data = Path(dist.locate_file(f)).read_bytes()
            wheel.writestr(str(f), data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{f},sha256={digest},{len(data)}")
        record.append(f"{info}/RECORD,,")
        wheel.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return target


def _built(root: Path, folder: Path) -> Path:
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", tmp, str(root)],
                              capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise OwnWheelError(f"cannot build jhpolicy's wheel from {root}: {done.stderr.strip()[-300:]}")
        (built,) = Path(tmp).glob("jhpolicy-*.whl")
        target = folder / built.name
        target.write_bytes(built.read_bytes())
    return target
