"""A real bundle server for the many-hubs tests: Debian's nginx serving a
folder on loopback, with an access log the tests read to know which bundle
each OPA has fetched (no sleeps: a test waits for the request it needs)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from jhpolicy.tooling.local_opa import free_port, stop_process

ROOT = Path(__file__).resolve().parents[2]  # the checkout: tests/helpers/ is two below it

CONFIG = """\
daemon off;
master_process off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log stderr error;
events {{ worker_connections 64; }}
http {{
    log_format fetches '$request_uri $status';
    access_log {dir}/access.log fetches;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root};
    }}
}}
"""


def nginx_binary() -> str:
    """$JHPOLICY_NGINX, nginx on PATH, or the one ./dev extracts from Debian's package."""
    for candidate in (
        os.environ.get("JHPOLICY_NGINX"),
        shutil.which("nginx"),
        str(ROOT / ".tools" / "nginx" / "usr" / "sbin" / "nginx"),
    ):
        if candidate and Path(candidate).is_file():
            return candidate
    raise RuntimeError("nginx not found: run ./dev setup (it extracts Debian's nginx into .tools/nginx)")


class BundleServer:
    def __init__(self, workdir: Path):
        self.dir = workdir
        self.root = workdir / "www"
        self.root.mkdir(parents=True, exist_ok=True)
        # Picked once: the hubs' OPA configurations name this URL, and a
        # restarted server must be found where it was.
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self._mtime = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> "BundleServer":
        conf = self.dir / "nginx.conf"
        conf.write_text(CONFIG.format(dir=self.dir, port=self.port, root=self.root))
        self.process = subprocess.Popen(
            [nginx_binary(), "-e", "stderr", "-p", str(self.dir), "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=open(self.dir / "nginx.err", "ab"),
        )
        import httpx

        deadline = time.monotonic() + timeout
        while True:
            try:
                httpx.get(f"{self.url}/", trust_env=False, timeout=1)
                return self
            except httpx.TransportError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"nginx did not start: {(self.dir / 'nginx.err').read_text()}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process:
            stop_process(self.process)
            self.process = None

    def publish(self, bundle: Path, resource: str) -> None:
        """Replace the served file atomically. nginx's ETag is size and mtime
        (seconds), so each publication gets a later mtime than the last."""
        target = self.root / resource
        target.parent.mkdir(parents=True, exist_ok=True)
        staged = target.with_suffix(".staged")
        shutil.copyfile(bundle, staged)
        self._mtime = max(time.time(), self._mtime + 1)
        os.utime(staged, (self._mtime, self._mtime))
        os.replace(staged, target)

    def fetches(self, resource: str) -> list[int]:
        """HTTP status of every request for resource (any query), oldest first."""
        log = self.dir / "access.log"
        if not log.exists():
            return []
        pattern = re.compile(rf"^/{re.escape(resource)}(\?\S*)? (\d+)$")
        return [int(m.group(2)) for line in log.read_text().splitlines() if (m := pattern.match(line))]
