"""Check a policy folder before it ships: what OPA would refuse to load
(``opa check --strict`` for the Rego; loading the folder for ``opa eval``
for the data files, which ``opa check`` does not read), then the data's
problems as the policy itself names them (the rule
``data.jupyterhub.spawn.problems_everywhere``: every allowance and quota in
data.jhpolicy, whoever it governs). `jhpolicy lint` prints them;
`jhpolicy configmap` and `jhpolicy bundle` refuse to build from a folder
that has any, with the same messages.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

PROBLEMS_RULE = "data.jupyterhub.spawn.problems_everywhere"


class LintError(Exception):
    """The folder could not be checked at all (no OPA, no folder)."""


def problems(opa: str, folder: Path) -> list[str]:
    """Every problem found, one line each; [] when the folder is fit to ship."""
    if not folder.is_dir():
        raise LintError(f"{folder}: no such folder")
    checked = _run([opa, "check", "--strict", "--format=json", str(folder)])
    if checked.returncode != 0:
        return _opa_errors(checked)
    evaluated = _run([opa, "eval", "--format=json", "--data", str(folder), PROBLEMS_RULE])
    if evaluated.returncode != 0:
        return _opa_errors(evaluated)
    result = json.loads(evaluated.stdout).get("result")
    if not result:
        return []  # a policy of one's own without jhpolicy's data checks: OPA's check is all there is
    found = result[0]["expressions"][0]["value"]
    return [f"data.jhpolicy: {problem}" for problem in sorted(found)]


def _opa_errors(done: subprocess.CompletedProcess) -> list[str]:
    """OPA's own words, one line each: file:row: what it could not load."""
    text = (done.stdout or done.stderr).strip()
    try:
        errors = json.loads(text)["errors"]
    except (ValueError, KeyError, TypeError):
        return [line for line in text.splitlines() if line.strip()] or [f"opa exited with {done.returncode}"]
    lines = []
    for error in errors:
        where = error.get("location") or {}
        prefix = f"{where['file']}:{where.get('row', 0)}: " if where.get("file") else ""
        lines.append(prefix + str(error.get("message", error)))
    return lines


def _run(command: list[str]) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=120)
    except OSError as e:
        raise LintError(f"cannot run {command[0]}: {e}") from None
