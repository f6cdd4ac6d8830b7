"""The OPA sidecar and ConfigMap mounts as the kubelet lays them out, on this
machine (tests/test_helm.py, tests/e2e/chart_hub.py)."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from jhpolicy.tooling.local_opa import free_port, start_on_free_ports
from jhpolicy.tooling.opa_binary import ensure_opa

from .polling import answers, wait_for


class ConfigMapMount:
    """A folder laid out the way the kubelet mounts a ConfigMap: each key a
    symlink into ..data, which points at a timestamped folder and is swapped
    atomically on update."""

    def __init__(self, root: Path, files: dict[str, str]):
        self.root = root
        root.mkdir(parents=True)
        self.update(files)
        for name in files:
            (root / name).symlink_to(f"..data/{name}")

    def update(self, files: dict[str, str | bytes]) -> None:
        stamp = datetime.now(timezone.utc).strftime("..%Y_%m_%d_%H_%M_%S.%f")
        (self.root / stamp).mkdir()
        for name, content in files.items():
            path = self.root / stamp / name
            path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
        old = (self.root / "..data").resolve() if (self.root / "..data").exists() else None
        tmp = self.root / "..data_tmp"
        tmp.symlink_to(stamp)
        os.replace(tmp, self.root / "..data")
        if old:
            for f in old.iterdir():
                f.unlink()
            old.rmdir()


def sidecar_command(opa_container: dict, mounts: dict[str, Path], decision_port: int, diag_port: int) -> list[str]:
    """The container's args with the pod's addresses and paths mapped to this machine.

    The diagnostic address ":8282" (every address of the pod) becomes
    loopback here: on this machine nothing may listen beyond 127.0.0.1. The
    exact form is run in a network namespace of its own (test_diagnostic_address_serves_both_families).
    """
    args = []
    for arg in opa_container["args"]:
        arg = arg.replace("--diagnostic-addr=:8282", f"--diagnostic-addr=127.0.0.1:{diag_port}")
        arg = arg.replace(":8181", f":{decision_port}")
        for mount, root in mounts.items():
            arg = arg.replace(f"={mount}/", f"={root}/")
        args.append(str(mounts.get(arg, arg)))
    return [ensure_opa(), *args]


@dataclass(frozen=True)
class Sidecar:
    process: subprocess.Popen
    url: str  # the decision address
    diag: str  # the diagnostic address (/health)


def start_sidecar(opa_container: dict, mounts: dict[str, Path], log: Path, env: dict | None = None,
                  timeout: float = 120) -> Sidecar:
    """The sidecar on ports free when picked, once its diagnostic address
    answers /health; what it prints is appended to `log`. A port taken
    before OPA bound it: again on new ones (start_on_free_ports)."""
    started = []

    def launch() -> str | None:
        decision_port, diag_port = free_port(), free_port()
        written = log.stat().st_size if log.exists() else 0
        with open(log, "ab") as out:
            process = subprocess.Popen(sidecar_command(opa_container, mounts, decision_port, diag_port),
                                       stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
        started.append(Sidecar(process, f"http://127.0.0.1:{decision_port}", f"http://127.0.0.1:{diag_port}"))
        wait_for(lambda: answers(f"{started[-1].diag}/health") or process.poll() is not None,
                 f"OPA's /health ({log})", timeout)
        return None if process.poll() is None else log.read_bytes()[written:].decode(errors="replace")

    start_on_free_ports(launch)
    return started[-1]

