"""Running a suite: every case through the spawner's own input path
(jhpolicy.tooling.dry_run), and what differs from its expectation."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..dry_run import DryRunError
from .suite import Case, Suite, SuiteError
from .words import human, lifetime_seconds, lifetime_text, policy_text


@dataclass
class Result:
    case: Case
    mismatches: list[str] = field(default_factory=list)
    report: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.mismatches


def compare(case: Case, report: dict) -> list[str]:
    """What differs between the case's expectation and the spawn's report."""
    expect, found = case.expect, []
    outcome = report["outcome"]
    if outcome != expect["outcome"]:
        found.append(f"outcome: expected {expect['outcome']}, got {outcome}")
    said = [policy_text(report["message"])] if "message" in report else list(report.get("messages") or [])
    if "message" in expect and not any(expect["message"].search(m) for m in said):
        found.append(f"message: nothing matches /{expect['message'].pattern}/; said: {said or 'nothing'}")
    if report["status"] != 200:
        return found
    if "charge" in expect and report.get("charge") != expect["charge"]:
        found.append(f"charge: expected {expect['charge']}, got {report.get('charge')}")
    if "lifetime" in expect:
        got = lifetime_seconds(report)
        if got != expect["lifetime"]:
            found.append(f"lifetime: expected {lifetime_text(expect['lifetime'])}, got {lifetime_text(got)}")
    values = report.get("values") or {}
    for key, want in expect.get("pod", {}).items():
        got = values.get(key)
        if key.startswith("extra_"):
            got = {name: int(n) for name, n in (got or {}).items()}
        if got != want:
            found.append(f"pod.{key}: expected {human(key, want)}, got {human(key, got)}")
    return found


def run(suite: Suite, opa_url: str, config) -> list[Result]:
    """Every case through jhpolicy.tooling.dry_run against the OPA at `opa_url`."""
    import asyncio

    from .. import dry_run

    results = []
    for case in suite.cases:
        try:
            report = asyncio.run(dry_run.run(config, case.who, case.body, opa_url, case.usage))
        except DryRunError as e:
            raise SuiteError(f"{suite.path}:{case.line}: {case.name}: {e}") from None
        results.append(Result(case, compare(case, report), report))
    return results
