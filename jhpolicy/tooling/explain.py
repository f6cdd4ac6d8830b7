"""Which rules decided: OPA's explanation of a decision, trimmed to the policy.

`opa eval --explain=full` traces every step of an evaluation, built-ins and
helper indexing included. A policy author asking "why was this refused?"
needs the rules of their own files that produced a value, in the order they
did: each `file:line` and the rule's first line. That is what this keeps.

Replay: OPA's decision log holds each decision's input and result, so a
logged decision can be evaluated again (against these policies or another
revision) and compared with what was logged.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .configmap import policy_files


class ExplainError(Exception):
    """The explanation could not be made; the text says why."""


@dataclass(frozen=True)
class Step:
    file: str
    row: int
    rule: str
    source: str

    def __str__(self) -> str:
        return f"{self.file}:{self.row}  {self.source}"


def explain(opa: str, policies: Path, input_doc: dict, path: str = "jupyterhub/spawn/decision") -> list[Step]:
    """The policy's rules that produced a value for this input, first use first."""
    files = policy_files(policies)
    with tempfile.TemporaryDirectory(prefix="jhpolicy-explain-") as tmp:
        for name, text in files.items():
            Path(tmp, name).write_text(text)
        Path(tmp, ".input.json").write_text(json.dumps(input_doc))
        query = "data." + path.strip("/").replace("/", ".")
        command = [str(Path(opa).resolve()), "eval", "--format=json", "--explain=full", "--input=.input.json",
                   *[f"--data={name}" for name in files], query]
        done = subprocess.run(command, capture_output=True, text=True, cwd=tmp)
    if done.returncode != 0:
        raise ExplainError(f"opa eval failed:\n{done.stderr.strip() or done.stdout.strip()}")
    return steps(json.loads(done.stdout).get("explanation", []), files)


def steps(trace: list[dict], files: dict[str, str]) -> list[Step]:
    """Rule exits in the policy's own files, one per rule definition."""
    found: list[Step] = []
    seen = set()
    for event in trace:
        node, location = event.get("Node"), event.get("Location") or {}
        if event.get("Op") != "Exit" or not isinstance(node, dict) or "head" not in node or _constant(node):
            continue
        name, row = Path(location.get("file", "")).name, location.get("row")
        if name not in files or not row or (name, row) in seen:
            continue
        seen.add((name, row))
        lines = files[name].splitlines()
        source = lines[row - 1].strip() if row <= len(lines) else ""
        found.append(Step(name, row, node["head"].get("name", ""), source))
    return found


def _constant(rule: dict) -> bool:
    # `name := value` with no body: a fixed table (handled_keys, limit_of), not a decision.
    body = rule.get("body") or []
    return len(body) == 1 and body[0].get("generated") and body[0].get("terms") == {"type": "boolean", "value": True}


@dataclass(frozen=True)
class LoggedDecision:
    """One entry of OPA's decision log (console output or a file of them)."""

    decision_id: str
    path: str
    input: dict
    result: object
    revisions: dict[str, str]
    labels: dict[str, str]


def logged_decisions(text: str) -> list[LoggedDecision]:
    """The decision log entries in text: OPA's JSON lines, other lines skipped."""
    found = []
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict) or "decision_id" not in entry or "input" not in entry:
            continue
        found.append(
            LoggedDecision(
                decision_id=entry["decision_id"],
                path=entry.get("path", "jupyterhub/spawn/decision"),
                input=entry["input"],
                result=entry.get("result"),
                revisions={name: b.get("revision", "") for name, b in (entry.get("bundles") or {}).items()},
                labels=entry.get("labels") or {},
            )
        )
    return found


def pick(entries: list[LoggedDecision], decision_id: str | None) -> LoggedDecision:
    if not entries:
        raise ExplainError("no decision log entry (a JSON line with decision_id and input) in the file")
    if decision_id is None:
        if len(entries) > 1:
            raise ExplainError(f"{len(entries)} decisions in the file; choose one with --decision-id")
        return entries[0]
    for entry in entries:
        if entry.decision_id == decision_id:
            return entry
    raise ExplainError(f"no decision {decision_id} in the file")
