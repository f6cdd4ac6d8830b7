"""The `jhpolicy` command as a user runs it: a subprocess on the tests' policies."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .policies import POLICIES

FORUM_BODY = '{"kubespawner_override": {"image": "jupyterhub/k8s-singleuser-sample:0.8.4", "cpu_limit": 8}}'


def jhpolicy(*args, **kwargs):
    """The command as a user runs it; on the tests' policy folder (the shipped
    .rego, the tests' data) unless the test names another or an OPA."""
    if args[0] in ("check", "replay", "lint") and not {"--policies", "--opa-url"} & set(args):
        args = (*args, "--policies", str(POLICIES))
    return subprocess.run(
        [sys.executable, "-m", "jhpolicy.cli", *args], capture_output=True, text=True, timeout=120, **kwargs
    )


def decision_log_of_one_spawn(tmp_path, policies: Path) -> tuple[Path, str]:
    """Run one spawn against an OPA with console decision logs; return the log file and the decision id."""
    from jhpolicy.tooling.local_opa import LocalOPA

    with LocalOPA([policies], ["--set=decision_logs.console=true"]) as opa:
        result = jhpolicy("check", "--user", "alice", "--group", "students", "--body", FORUM_BODY,
                          "--opa-url", opa.url, "--json")
        assert result.returncode == 0, result.stderr
        log = tmp_path / "decisions.log"
        log.write_text(opa.log_text())
    (entry,) = [json.loads(line) for line in log.read_text().splitlines() if '"decision_id"' in line]
    return log, entry["decision_id"]
