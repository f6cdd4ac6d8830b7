"""One hub's OPA sidecar fed by a bundle server (tests/test_bundles.py, bench/bundle_rollout.py)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml

from jhpolicy.tooling import bundle
from jhpolicy.tooling.local_opa import stop_process

from .bundle_server import BundleServer
from .helm import merged_values, sidecar
from .polling import answers
from .sidecar import start_sidecar
from .spawns import run_spawn

KEYID = "jhpolicy-test"


BODY = {"kubespawner_override": {"image": "jupyterhub/k8s-singleuser-sample:0.8.4", "cpu_limit": 8}}


class Hub:
    """One hub's OPA sidecar, run with the Helm variant's own arguments
    (helm-values/jhpolicy-bundles.yaml) and a configuration made by the same
    code as `jhpolicy opa-config`."""

    def __init__(self, name: str, server: BundleServer, public_key: str, workdir: Path, min_delay=1, max_delay=2):
        self.name = name
        self.resource = f"{bundle.RESOURCE}?hub={name}"  # tells the two hubs apart in nginx's log
        config = bundle.sidecar_config(
            server.url, keyid=KEYID, public_key=public_key, hub=name, resource=self.resource,
            persistence_directory=str(workdir / f"{name}-persisted"), min_delay=min_delay, max_delay=max_delay,
        )
        config_dir = workdir / f"{name}-config"
        config_dir.mkdir()
        (config_dir / "opa-config.yaml").write_text(yaml.safe_dump(config))
        self.config_dir = config_dir
        self.url = self.diag = None  # set by start(), on ports free then
        self.log = workdir / f"{name}-opa.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> "Hub":
        started = start_sidecar(sidecar(merged_values("bundles")), {"/config": self.config_dir}, self.log)
        self.process, self.url, self.diag = started.process, started.url, started.diag
        return self

    def stop(self) -> None:
        if self.process:
            stop_process(self.process)
            self.process = None

    def answers(self, path: str) -> bool:
        return answers(self.diag + path)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def bundle_active(self) -> bool:
        """What the Helm variant's readiness probe asks."""
        return self.answers("/health?bundles=true")

    def cpu_limit(self) -> float | None:
        """What this hub's policy makes of the students' 8-CPU request, asked of OPA directly."""
        r = run_spawn(self.url, BODY, groups=["students"])
        return r.pod["limits"]["cpu"] if r.status == 200 else None

    def decision_log(self) -> list[dict]:
        entries = []
        for line in self.log_text().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("msg") == "Decision Log":
                entries.append(entry)
        return entries
