"""Reading a suite: its file, each case, each expectation, checked so that
a typo never turns into a case that passes without testing anything."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ...core.lifetime import KINDS as LIFETIME_KINDS
from ...core.lifetime import parse_duration
from ...core.quantities import PARSERS, InvalidValue
from ..close_names import did_you_mean
from ..dry_run import DryRunError, Who, parse_usage

SUITE_KEYS = {"policies", "config", "values", "cases"}
CASE_KEYS = {"name", "user", "groups", "group_properties", "admin", "server", "requester", "body", "usage", "expect"}
EXPECT_KEYS = {"outcome", "pod", "message", "charge", "lifetime"}
# The pod values a case may check: the keys a request may override.
# What a case may expect; "unavailable" is the hub's 503 (OPA unreachable, a decision the contract refused).
OUTCOMES = ("allowed", "clamped", "denied", "invalid", "misconfigured", "unavailable")
STARTED = ("allowed", "clamped")


class SuiteError(Exception):
    """The suite cannot be run as written: the message names the place."""


class UnknownKey(SuiteError):
    """A key the suite's format does not have (`expct`), most likely a typo:
    the command adds the known keys one typo away (with_close), asked of
    the policy library's close_keys, which the suite's reading cannot run."""

    def __init__(self, where: str, key: str, known: set[str]):
        self.where, self.key, self.known = where, key, known
        super().__init__(self.with_close([]))

    def with_close(self, close: list[str]) -> str:
        hint = f"{did_you_mean(close)} " if close else ""
        return f"{self.where}: unknown key {self.key!r} ({hint}known: {', '.join(sorted(self.known))})"


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
        raise UnknownKey(where, unknown[0], known)


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
    return Case(name, line, who, body, usage, expectation(f"{where}: {name}", item.get("expect")))


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


def expectation(where: str, expect) -> dict:
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
