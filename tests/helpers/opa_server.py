"""A real OPA server for tests: in a container when a Docker engine answers,
else the pinned local binary. Either way the tests run against real OPA;
nothing is skipped when Docker is missing."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from jhpolicy.tooling.local_opa import LocalOPA
from jhpolicy.tooling.opa_binary import OPA_VERSION

log = logging.getLogger(__name__)


def docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


class ContainerOPA:
    """The official OPA image through testcontainers, with the same interface as LocalOPA."""

    def __init__(self, paths: list[Path], extra_args: list[str]):
        from testcontainers.core.container import DockerContainer

        self.container = DockerContainer(f"openpolicyagent/opa:{OPA_VERSION}-static").with_exposed_ports(8181)
        mounts = []
        for i, path in enumerate(paths):
            target = f"/policies/{i}"
            self.container = self.container.with_volume_mapping(str(Path(path).resolve()), target, "ro")
            mounts.append(target)
        self.container = self.container.with_command(
            ["run", "--server", "--addr=0.0.0.0:8181", "--log-level=error", *extra_args, *mounts]
        )

    def start(self) -> "ContainerOPA":
        from opa_client import OpaClient

        self.container.start()
        host, port = self.container.get_container_host_ip(), int(self.container.get_exposed_port(8181))
        self.url = f"http://{host}:{port}"
        client = OpaClient(host=host, port=port)
        try:
            client.wait_for_ready(timeout=60, interval=0.1)
        finally:
            client.close_connection()
        return self

    def log_text(self) -> str:
        out, err = self.container.get_logs()
        return (out + err).decode(errors="replace")

    def stop(self) -> None:
        self.container.stop()


@contextlib.contextmanager
def opa_server(paths: list[Path], extra_args: list[str] = ()):
    if docker_answers():
        log.info("OPA fixture: testcontainers (Docker engine answered)")
        server = ContainerOPA(paths, list(extra_args)).start()
    else:
        log.info("OPA fixture: no Docker engine answers; using the local opa binary")
        server = LocalOPA(paths, list(extra_args)).start()
    try:
        yield server
    finally:
        server.stop()
