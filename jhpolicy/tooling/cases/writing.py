"""Writing cases: a starter suite from the data, a case from a spawn's
report or from a decision log line, and a suite's text."""

from __future__ import annotations

import yaml

from ...core.decision import outcome_name
from ...core.quantities import PARSERS, SCALAR_KEYS
from ..dry_run import Who
from .suite import SuiteError
from .words import human, lifetime_seconds, pattern_of, policy_text


def case_from_report(name: str, who: Who, body: dict, report: dict) -> dict:
    """A case that expects what `report` shows (to be reviewed by the admin)."""
    case = case_of(name, who, body)
    outcome = report["outcome"]
    expect: dict = {"outcome": outcome}
    if report["status"] == 200:
        values = report.get("values") or {}
        expect["pod"] = {k: human(k, values.get(k)) for k in ("image", *SCALAR_KEYS)}
        gpus = {n: int(v) for n, v in (values.get("extra_resource_limits") or {}).items()}
        if gpus:
            expect["pod"]["extra_resource_limits"] = gpus
        expect["charge"] = report.get("charge")
        if report.get("lifetime"):
            expect["lifetime"] = lifetime_seconds(report)
    elif outcome in ("denied", "misconfigured"):
        expect["message"] = pattern_of(policy_text(report["message"]))
    case["expect"] = expect
    return case


def case_of(name: str, who: Who, body: dict, usage: dict | None = None) -> dict:
    """A case's who and what, as a suite writes them (no expectation yet)."""
    case: dict = {"name": name, "user": who.user}
    if who.groups:
        case["groups"] = list(who.groups)
    if who.group_properties:
        case["group_properties"] = who.group_properties
    if who.admin:
        case["admin"] = True
    if who.server:
        case["server"] = who.server
    if who.requester:
        case["requester"] = who.requester
    case["body"] = body
    if usage:
        case["usage"] = usage
    return case


def starter_requests(data: dict) -> list[tuple[str, Who, dict]]:
    """For each group entry of the data: the defaults, its maximum CPU,
    twice that, each extended resource, and an image none of its patterns allows."""
    requests = []
    groups = data.get("groups") if isinstance(data.get("groups"), dict) else {}
    for group, entry in sorted(groups.items()):
        entry = entry if isinstance(entry, dict) else {}
        member = Who(user=f"a-{group}-member" if group != "default" else "someone",
                     groups=[] if group == "default" else [group])
        requests.append((f"{group}: an empty request gets the hub's defaults", member, {}))
        cpu = (entry.get("max") or {}).get("cpu_limit") if isinstance(entry.get("max"), dict) else None
        if isinstance(cpu, int | float) and not isinstance(cpu, bool):
            requests.append((f"{group}: asks for its most CPU ({cpu})", member, {"cpu_limit": cpu}))
            requests.append((f"{group}: asks for twice its most CPU ({cpu * 2})", member, {"cpu_limit": cpu * 2}))
        gpus = entry.get("extra_resources") if isinstance(entry.get("extra_resources"), dict) else {}
        for resource in sorted(gpus):
            requests.append((f"{group}: asks for one {resource}", member, {"extra_resource_limits": {resource: 1}}))
        requests.append((f"{group}: asks for an image no entry allows", member,
                         {"image": "registry.invalid/not-allowed:latest"}))
    return requests


def from_logged(entry) -> tuple[Who, dict, dict | None, dict]:
    """Who, body, usage and the expectation of a logged decision (jhpolicy.tooling.explain.LoggedDecision)."""
    doc = entry.input if isinstance(entry.input, dict) else {}
    user = doc.get("user") or {}
    if not user.get("name"):
        raise SuiteError("the logged decision's input has no user: is it a jhpolicy decision?")
    requester = doc.get("requester") or {}
    by = None
    if requester.get("kind") == "service":
        by = f"service:{requester.get('name')}"
    elif requester.get("name") and requester.get("name") != user["name"]:
        by = f"{'admin' if requester.get('admin') else 'user'}:{requester['name']}"
    properties = {g: d.get("properties") for g, d in (doc.get("groups") or {}).items()
                  if isinstance(d, dict) and d.get("properties")}
    who = Who(user=user["name"], groups=list(user.get("groups") or []), group_properties=properties,
              admin=bool(user.get("admin")), server=(doc.get("server") or {}).get("name") or "", requester=by)
    request = doc.get("request") or {}
    body = dict(request.get("raw") or {})  # the overrides as sent, kubespawner_override's at the top level
    if request.get("profile"):
        body["profile"] = request["profile"]
    body.update(request.get("profile_options") or {})
    result = entry.result if isinstance(entry.result, dict) else {}
    messages = result.get("messages") or []
    if not result.get("allow"):
        expect = {"outcome": outcome_name(False, result.get("reason"), False)}
        if messages:
            expect["message"] = pattern_of(str(messages[0]))
    else:
        pod = doc.get("pod") or {}
        overrides = result.get("overrides") or {}
        changed = {k: v for k, v in overrides.items() if k in PARSERS and pod.get(k) != v}
        expect = {"outcome": outcome_name(True, None, bool(changed))}
        if changed:
            expect["pod"] = {k: human(k, v) for k, v in changed.items()}
        if "charge" in result:
            expect["charge"] = result["charge"]
    usage = doc.get("usage") if isinstance(doc.get("usage"), dict) else None
    return who, body, usage, expect


def dump(cases: list[dict], header: str, sources: dict | None = None) -> str:
    """A suite's text; `sources` (policies, config, values: paths relative
    to the suite) go first, so the suite runs as written from its header."""
    body = yaml.safe_dump({**(sources or {}), "cases": cases}, sort_keys=False, allow_unicode=True, width=110)
    return "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines()) + body
