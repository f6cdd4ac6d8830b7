"""Run an OPA server as a child process, for `jhpolicy check` and the tests."""

from __future__ import annotations

import random
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from opa_client import OpaClient

from .opa_binary import ensure_opa
from .shipped import shipped


def bundled_policies() -> Path:
    """The policies shipped with jhpolicy: inside the wheel, or the checkout's policies/."""
    found = shipped("policies")
    if found is None or not (found / "spawn.rego").exists():
        raise FileNotFoundError("jhpolicy's bundled policies are missing from this installation")
    return found


def free_port() -> int:
    """A free loopback port below the kernel's ephemeral range. A client that
    dials a port in that range while nothing listens there (a retry while OPA
    restarts on the port it had) can be given that very port as its own and
    connect to itself; the port is then taken, and the server cannot bind it
    again. Seen in the tests: "bind: address already in use"."""
    low = _ephemeral_low()
    for _ in range(100):
        port = random.randrange(10000, low)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as s:  # the low range is full: any port will do
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default; macOS and Windows start higher


def start_on_free_ports(start: Callable[[], str | None], attempts: int = 3) -> None:
    """Run `start` until a server it launches answers. `start` picks free
    ports, launches the server on them and waits until it answers (returns
    None) or exits (returns what it printed). A port free when picked can be
    taken before the server binds it: another test pass beside this one,
    another server on the machine (seen in CI: "bind: address already in
    use"). Then the server starts again on new ports; any other exit raises
    at once, with what it printed."""
    for _ in range(attempts):
        failure = start()
        if failure is None:
            return
        if "address already in use" not in failure.lower():
            break
    raise RuntimeError(failure)


def stop_process(process: subprocess.Popen, timeout: float = 10) -> None:
    """Terminate, and kill if it does not exit within `timeout`."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class LocalOPA:
    """``opa run --server`` on a free loopback port, stopped on exit."""

    def __init__(self, paths: list[str | Path], extra_args: list[str] = (), binary: str | None = None):
        self.binary = binary or ensure_opa()
        self.paths = [str(p) for p in paths]
        self.extra_args = list(extra_args)
        self.port = None
        self.process = None
        self.log_file = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0, port: int | None = None) -> "LocalOPA":
        """Start OPA on free ports; `port` restarts it on a known port (e.g.
        the one it had), which is tried once."""
        start_on_free_ports(lambda: self._launch(timeout, port or free_port()), attempts=1 if port else 3)
        return self

    def _launch(self, timeout: float, port: int) -> str | None:
        """Launch on `port`; None once it answers, what it printed if it exits."""
        self.stop()
        self.port = port
        self.log_file = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [self.binary, "run", "--server", f"--addr=127.0.0.1:{self.port}", "--log-level=error",
             "--optimize-store-for-read-speed", *self.extra_args, *self.paths],
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
        )
        client = OpaClient(host="127.0.0.1", port=self.port, timeout=1.0)
        deadline = time.monotonic() + timeout
        try:
            while not client.check_health():
                if self.process.poll() is not None:
                    return f"OPA exited with code {self.process.returncode}:\n{self.log_text()}"
                if time.monotonic() > deadline:
                    log = self.log_text()
                    self.stop()
                    raise RuntimeError(f"OPA did not become healthy within {timeout}s:\n{log}")
                time.sleep(0.05)
        finally:
            client.close_connection()
        return None

    def log_text(self) -> str:
        """What OPA printed so far (errors, and decision logs if enabled)."""
        self.log_file.seek(0)
        return self.log_file.read().decode(errors="replace")

    def stop(self) -> None:
        if self.process:
            stop_process(self.process)
        if self.log_file:
            self.log_file.close()
            self.log_file = None

    def __enter__(self) -> "LocalOPA":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
