"""`jhpolicy test CASES.yaml`: an admin's table of spawn requests and what
each must give, run through the spawner's own input path (jhpolicy.tooling.dry_run)
against their policy folder with a local OPA. No cluster, no hub.

A suite fails on any mismatch, and refuses to run (exit 2) when it is empty
or malformed: an unknown key, an outcome that is not one, or an expectation
that could never be checked (pod values on a refusal, a key no pod has), so a
typo never turns into a case that passes without testing anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import quoteattr

import yaml

from ..core.decision import outcome_name
from ..core.lifetime import KINDS as LIFETIME_KINDS
from ..core.lifetime import duration, parse_duration
from ..core.quantities import PARSERS, SCALAR_KEYS, InvalidValue, memory_text
from ..hub.errors import REFUSAL_PREFIX
from .dry_run import DryRunError, Who, parse_usage

SUITE_KEYS = {"policies", "config", "values", "cases"}
CASE_KEYS = {"name", "user", "groups", "group_properties", "admin", "server", "requester", "body", "usage", "expect"}
EXPECT_KEYS = {"outcome", "pod", "message", "charge", "lifetime"}
# The pod values a case may check: the keys a request may override.
# What a case may expect; "unavailable" is the hub's 503 (OPA unreachable, a decision the contract refused).
OUTCOMES = ("allowed", "clamped", "denied", "invalid", "misconfigured", "unavailable")
STARTED = ("allowed", "clamped")


class SuiteError(Exception):
    """The suite cannot be run as written: the message names the place."""


@dataclass
class Case:
    name: str
    line: int
    who: Who
    body: dict
    usage: dict | None
    expect: dict


@dataclass
class Suite:
    path: Path
    cases: list[Case]
    policies: Path | None = None
    config: Path | None = None
    values: list[Path] = field(default_factory=list)


@dataclass
class Result:
    case: Case
    mismatches: list[str] = field(default_factory=list)
    report: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.mismatches


# --- reading a suite ---


def load(path: Path) -> Suite:
    try:
        text = path.read_text()
    except OSError as e:
        raise SuiteError(f"{path}: {e.strerror or e}") from None
    try:
        loader = yaml.SafeLoader(text)  # one parse: the nodes give each case's line
        try:
            root = loader.get_single_node()
            doc = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as e:
        raise SuiteError(f"{path}: not YAML: {str(e).splitlines()[0]}") from None
    if not isinstance(doc, dict):
        raise SuiteError(f'{path}: expected a mapping with "cases" (a list of cases)')
    _no_unknown(f"{path}", doc, SUITE_KEYS)
    cases = doc.get("cases")
    if not isinstance(cases, list) or not cases:
        raise SuiteError(f"{path}: no cases: \"cases\" must be a list of at least one case")
    lines = _case_lines(root)
    here = path.resolve().parent
    for key in ("policies", "config"):
        if doc.get(key) is not None and not (isinstance(doc[key], str) and doc[key]):
            raise SuiteError(f"{path}: {key} is a path (relative to the suite), not {_shown(doc[key])}")
    suite = Suite(path, [], *((here / doc[k]).resolve() if doc.get(k) else None for k in ("policies", "config")))
    values = doc.get("values") or []
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
        raise SuiteError(f"{path}: values is a list of z2jh values files")
    suite.values = [(here / v).resolve() for v in values]
    # Before any case runs: a path that is not there is the suite's mistake.
    for key, found, kind in [("policies", suite.policies, "folder"), ("config", suite.config, "file"),
                             *(("values", v, "file") for v in suite.values)]:
        if found is not None and not (found.is_dir() if kind == "folder" else found.is_file()):
            raise SuiteError(f"{path}: {key}: {found}: no such {kind}")
    names = set()
    for i, item in enumerate(cases):
        case = _case(f"{path}:{lines[i]}", item, lines[i], i)
        if case.name in names:
            raise SuiteError(f"{path}:{lines[i]}: a second case named {case.name!r}")
        names.add(case.name)
        suite.cases.append(case)
    return suite


def _case_lines(root) -> list[int]:
    for key, value in getattr(root, "value", []) or []:
        if getattr(key, "value", None) == "cases" and isinstance(value, yaml.SequenceNode):
            return [node.start_mark.line + 1 for node in value.value]
    return []


def _no_unknown(where: str, doc: dict, known: set[str]) -> None:
    unknown = sorted(str(k) for k in doc if k not in known)
    if unknown:
        raise SuiteError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})")


def _case(where: str, item, line: int, index: int) -> Case:
    if not isinstance(item, dict):
        raise SuiteError(f"{where}: a case is a mapping (user, body, expect, ...)")
    _no_unknown(where, item, CASE_KEYS)
    for key, kind, ok in (("name", "a non-empty string", lambda v: isinstance(v, str) and v),
                          ("admin", "true or false", lambda v: isinstance(v, bool)),
                          ("server", "a server name (a string; \"\" for the default server)", lambda v: isinstance(v, str)),
                          ("requester", '"user:NAME", "admin:NAME" or "service:NAME"', _is_requester)):
        if key in item and not ok(item[key]):
            raise SuiteError(f"{where}: {key} is {kind}, not {_shown(item[key])}")
    name = item.get("name") or f"case {index + 1}"
    user = item.get("user")
    if not isinstance(user, str) or not user:
        raise SuiteError(f"{where}: {name}: \"user\" (a user name) is required")
    groups = item.get("groups", [])
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise SuiteError(f"{where}: {name}: \"groups\" is a list of group names")
    properties = item.get("group_properties", {})
    if not isinstance(properties, dict) or not all(isinstance(p, dict) for p in properties.values()):
        raise SuiteError(f"{where}: {name}: \"group_properties\" maps a group name to its properties")
    stray = sorted(set(properties) - set(groups))
    if stray:
        raise SuiteError(f"{where}: {name}: group_properties of {stray[0]!r}, which is not in \"groups\"")
    body = item.get("body", {})
    if not isinstance(body, dict):
        raise SuiteError(f"{where}: {name}: \"body\" (the REST API request body) is a mapping")
    try:
        usage = parse_usage(item["usage"]) if "usage" in item else None
    except DryRunError as e:
        raise SuiteError(f"{where}: {name}: usage: {e}") from None
    who = Who(user=user, groups=groups, group_properties=properties, admin=item.get("admin", False),
              server=item.get("server", ""), requester=item.get("requester"))
    return Case(name, line, who, body, usage, _expectation(f"{where}: {name}", item.get("expect")))


def _shown(value) -> str:
    """A wrong value as the admin wrote it, with its YAML type."""
    kind = {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list",
            dict: "a mapping", type(None): "null"}.get(type(value), type(value).__name__)
    return f"{kind} ({str(value)[:40]!r})" if value is not None else kind


def _is_requester(value) -> bool:
    if value is None:
        return True
    if not isinstance(value, str):
        return False
    kind, _, name = value.partition(":")
    return kind in ("user", "admin", "service") and bool(name)


def _expectation(where: str, expect) -> dict:
    if not isinstance(expect, dict) or "outcome" not in expect:
        raise SuiteError(f"{where}: \"expect\" with an \"outcome\" ({', '.join(OUTCOMES)}) is required")
    _no_unknown(where + ": expect", expect, EXPECT_KEYS)
    outcome = expect["outcome"]
    if outcome not in OUTCOMES:
        raise SuiteError(f"{where}: outcome {outcome!r} is not one of {', '.join(OUTCOMES)}")
    parsed = {"outcome": outcome}
    if "message" in expect:
        try:
            parsed["message"] = re.compile(str(expect["message"]))
        except re.error as e:
            raise SuiteError(f"{where}: message is not a regular expression: {e}") from None
    for key in ("pod", "charge", "lifetime"):
        if key in expect and outcome not in STARTED:
            raise SuiteError(f"{where}: expect.{key} on a {outcome} case, which starts no pod: it would check nothing")
    if "charge" in expect:
        if expect["charge"] is not None and not isinstance(expect["charge"], str):
            raise SuiteError(f"{where}: charge is a group name, or null for none")
        parsed["charge"] = expect["charge"]
    if "lifetime" in expect:
        parsed["lifetime"] = _lifetime(f"{where}: expect.lifetime", expect["lifetime"])
    if "pod" in expect:
        if not isinstance(expect["pod"], dict) or not expect["pod"]:
            raise SuiteError(f"{where}: expect.pod maps pod values ({', '.join(PARSERS)}) to what they must be")
        _no_unknown(where + ": expect.pod", expect["pod"], set(PARSERS))
        parsed["pod"] = {key: _pod_value(f"{where}: expect.pod", key, value) for key, value in expect["pod"].items()}
    return parsed


def _lifetime(where: str, value) -> dict:
    """{"idle": "1h", "max_age": "8h"} as the data writes durations (either
    kind may be left out: then none may be decided), or null for none, to seconds."""
    if value is None:
        return {}
    if not isinstance(value, dict) or set(value) - set(LIFETIME_KINDS):
        raise SuiteError(f'{where} is null or a mapping like {{"idle": "1h", "max_age": "8h"}}')
    try:
        return {kind: parse_duration(v) for kind, v in value.items()}
    except ValueError as e:
        raise SuiteError(f"{where}: {e}") from None


def _pod_value(where: str, key: str, value):
    """As jupyterhub_config.py writes it ("4G", 2, null for no limit), to the decided pod's form."""
    if value is None:
        return None
    try:
        parsed = PARSERS[key](key, value)
    except (InvalidValue, ValueError) as e:
        raise SuiteError(f"{where}: {e}") from None
    if key.startswith("extra_"):
        return {name: int(n) for name, n in parsed.items()}
    return parsed


# --- running it ---


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


def lifetime_seconds(report: dict) -> dict:
    """{kind: seconds} of the spawn's decided lifetime; {} for none."""
    return {kind: limit["seconds"] for kind, limit in (report.get("lifetime") or {}).items()}


def lifetime_text(seconds: dict) -> str:
    return ", ".join(f"{kind} {duration(n)}" for kind, n in sorted(seconds.items())) or "none"


def human(key: str, value) -> object:
    """A pod value as an admin writes it: 2 CPUs, "4G"."""
    if value is None or key == "image":
        return value
    if key.startswith("mem_"):
        return memory_text(value) or value
    if key.startswith("cpu_"):
        return int(value) if float(value).is_integer() else value
    return dict(value)


def policy_text(message: str) -> str:
    """A refusal as the policy worded it, without the hub's prefix."""
    return message.removeprefix(REFUSAL_PREFIX)


def pattern_of(message: str, length: int = 80) -> str:
    """A readable regular expression matching the start of `message`."""
    start = message if len(message) <= length else message[:length].rsplit(" ", 1)[0]
    return "^" + re.sub(r"([.^$*+?{}\[\]\\|()])", r"\\\1", start)


def junit_xml(results: list[Result], suite: Suite) -> str:
    """JUnit XML, which CI systems (GitHub Actions, GitLab, Jenkins) show per case."""
    failures = sum(not r.passed for r in results)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             f'<testsuite name={quoteattr(str(suite.path))} tests="{len(results)}" failures="{failures}">']
    for r in results:
        name = quoteattr(r.case.name)
        where = quoteattr(f"{suite.path}:{r.case.line}")
        if r.passed:
            lines.append(f'  <testcase classname="jhpolicy" name={name} file={where}/>')
        else:
            text = "; ".join(r.mismatches)
            lines.append(f'  <testcase classname="jhpolicy" name={name} file={where}>'
                         f'<failure message={quoteattr(text)}/></testcase>')
    lines.append("</testsuite>")
    return "\n".join(lines) + "\n"


# --- writing cases: a starter suite, a case from a decision log line ---


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


def run(suite: Suite, opa_url: str, config) -> list[Result]:
    """Every case through jhpolicy.tooling.dry_run against the OPA at `opa_url`."""
    import asyncio

    from . import dry_run

    results = []
    for case in suite.cases:
        try:
            report = asyncio.run(dry_run.run(config, case.who, case.body, opa_url, case.usage))
        except DryRunError as e:
            raise SuiteError(f"{suite.path}:{case.line}: {case.name}: {e}") from None
        results.append(Result(case, compare(case, report), report))
    return results
