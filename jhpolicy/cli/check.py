"""`jhpolicy check`: what the spawner would do with one request (a dry run
through PolicyKubeSpawner's own code); `jhpolicy replay`: a logged decision
evaluated again."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from ..tooling import dry_run
from ..tooling.dry_run import DryRunError, Who, parse_usage
from ..tooling.opa_binary import OPANotFound, ensure_opa
from .common import (
    EXIT_ALLOWED,
    EXIT_DENIED,
    EXIT_ERROR,
    decision_log_arguments,
    error,
    policies_option,
    policy_folder,
    policy_opa,
    renamed,
    usage_document,
)


def register(sub) -> None:
    check = sub.add_parser(
        "check",
        help="show what the spawner would do with a spawn request",
        description="Run a spawn request through PolicyKubeSpawner and print the decision and the pod's "
        "image and resources. Exit 0 allowed, 1 denied, 2 error.",
    )
    check.add_argument("--user", required=True, help="the user whose server is started")
    check.add_argument("--group", action="append", default=[], help="a group of the user (repeat)")
    check.add_argument("--admin", action="store_true", help="the user is a JupyterHub admin")
    check.add_argument("--server", default="", help="named server ('' = the default server)")
    who = check.add_mutually_exclusive_group()
    who.add_argument("--as-service", metavar="NAME", help="the request comes from this JupyterHub service")
    who.add_argument("--as-user", metavar="NAME", help="the request comes from this (other) user")
    check.add_argument("--as-admin", action="store_true", help="with --as-user: that user is an admin")
    check.add_argument("--body", default="{}", help="the REST API request body (becomes user_options), JSON")
    check.add_argument("--opa-url", help="ask this OPA; default: start a local OPA on --policies")
    policies_option(check, "policy folder for the local OPA (default: the bundled policies)")
    check.add_argument("--config", help="a jupyterhub_config.py to load (profile_list, PolicyKubeSpawner options)")
    check.add_argument(
        "--values", metavar="FILE", action="append",
        help="a Zero to JupyterHub values file (repeat, in Helm's order): the spawner is configured as chart 4.4.0 "
        "configures it (singleuser.*, hub.config, hub.extraConfig); --config applies after it",
    )
    check.add_argument(
        "--usage", metavar="FILE",
        help="dry-run against this usage (input.usage as JSON: user, user_by_group, groups, hub) instead of none",
    )
    check.add_argument("--json", action="store_true", help="print the result as JSON")
    check.add_argument(
        "--verbose", action="store_true",
        help="also show what the hub would log: the reason behind a 503 (OPA unreachable, a decision the "
        "contract refused) or a misconfiguration, which the end user never sees",
    )
    check.add_argument(
        "--explain", action="store_true",
        help="also list the policy's rules that decided, file:line (opa eval --explain on --policies)",
    )
    renamed(check, "--replay", "jhpolicy replay LOG [--decision-id ID]")
    check.set_defaults(func=cmd_check)

    replay = sub.add_parser(
        "replay",
        help="evaluate a decision from OPA's decision log again and compare it with the logged result",
        description="Take a decision log entry (OPA's JSON lines, e.g. kubectl logs deploy/hub -c opa), evaluate "
        "its input again at its path against --policies or --opa-url, and print the hub and bundle revision that "
        "made it, the logged and the replayed result. Exit 0: same decision; 1: different; 2: error.",
    )
    decision_log_arguments(replay)
    replay.add_argument("--opa-url", help="ask this OPA; default: start a local OPA on --policies")
    policies_option(replay, "policy folder for the local OPA (default: the bundled policies)")
    replay.add_argument("--explain", action="store_true",
                        help="also list the policy's rules that decided, file:line (opa eval --explain on --policies)")
    replay.set_defaults(func=cmd_replay)


def cmd_check(args) -> int:
    try:
        user_options = json.loads(args.body)
    except ValueError as e:
        return error("check", f"--body is not JSON: {e}")
    try:
        usage = parse_usage(usage_document(Path(args.usage))) if args.usage else None
    except (OSError, ValueError, DryRunError) as e:  # unreadable, not JSON, not usage
        return error("check", f"--usage {args.usage}: {e}")
    config_notes: list[str] = []
    config = dry_run.hub_config(args.config, args.values, config_notes)
    policies = None if args.opa_url else policy_folder(args)
    with policy_opa(policies, args.opa_url) as opa:
        report = asyncio.run(dry_run.run(config, _who(args), user_options, opa.url, usage))
        group_notes = opa.unmatched_group_notes([(args.group, {})])
    input_doc = report.pop("input", None)
    report["notes"] = [*group_notes.values(), *config_notes, *report.get("notes", [])]
    report["unmatched_groups"] = list(group_notes)
    reasons = report.pop("reasons", [])
    if args.verbose:
        report["reasons"] = reasons
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True, default=str))
    else:
        print_report(report)
        if report["status"] == 503 and not args.verbose:
            print("(--verbose shows the reason the hub would log)")
    if args.explain:
        _print_explanation(input_doc, policies or policy_folder(args))
    if report["status"] == 200:
        return EXIT_ALLOWED
    return EXIT_DENIED if report["status"] == 403 else EXIT_ERROR


def cmd_replay(args) -> int:
    """Evaluate a decision from OPA's decision log again and compare it with the logged result."""
    from ..hub.opa_http import OPA, Limits, PolicyUnavailable, close_clients
    from ..tooling.explain import ExplainError, logged_decisions, pick

    try:
        entry = pick(logged_decisions(Path(args.log).read_text()), args.decision_id)
    except (OSError, ExplainError) as e:
        return error("replay", str(e))
    policies = policy_folder(args)

    async def evaluate(url):
        try:
            return (await OPA(url, None, 1, Limits(10.0, 1, 16 * 2**20)).ask(entry.path, entry.input)).result
        finally:
            await close_clients()

    try:
        with policy_opa(policies, args.opa_url) as opa:
            result = asyncio.run(evaluate(opa.url))
    except (DryRunError, PolicyUnavailable) as e:
        return error("replay", str(e))
    made_by = ", ".join(f"bundle {name} revision {rev}" for name, rev in entry.revisions.items()) or "local policy files"
    hub = entry.labels.get("hub")
    print(f"decision {entry.decision_id}{f' on hub {hub}' if hub else ''}, made by {made_by}")
    print(f"logged:   {json.dumps(entry.result, sort_keys=True)}")
    print(f"replayed: {json.dumps(result, sort_keys=True)} ({args.opa_url or policies})")
    same = result == entry.result
    print("same decision" if same else "DIFFERENT decision: the policy or its data changed since")
    if args.explain:
        _print_explanation(entry.input, policies)
    return 0 if same else 1


def _who(args) -> Who:
    requester = None
    if args.as_service:
        requester = f"service:{args.as_service}"
    elif args.as_user:
        requester = f"{'admin' if args.as_admin else 'user'}:{args.as_user}"
    return Who(user=args.user, groups=args.group, admin=args.admin, server=args.server, requester=requester)


def print_report(report: dict) -> None:
    print(f"user {report['user']} (groups: {', '.join(report['groups']) or 'none'}), server {report['server']!r}")
    for note in report.get("notes", []):
        print(f"note: {note}")
    for reason in report.get("reasons", []):
        print(f"reason (hub log): {reason}")
    if report["status"] != 200:
        word = "DENIED" if report["status"] == 403 else f"ERROR (HTTP {report['status']})"
        print(f"{word}: {report['message']}")
        return
    print(f"ALLOWED ({report['outcome']})")
    for message in report["messages"]:
        print(f"  - {message}")
    print(f"applied: {json.dumps(report['applied'], sort_keys=True)}")
    if report.get("charge"):
        print(f"charged to group: {report['charge']}")
    pod = report["pod"]
    print(f"pod image: {pod['image']}")
    print(f"pod limits: {json.dumps(pod['limits'], sort_keys=True)}")
    print(f"pod requests: {json.dumps(pod['requests'], sort_keys=True)}")


def _print_explanation(input_doc: dict | None, policies: Path) -> None:
    from ..tooling.explain import explain

    if input_doc is None:
        print("explain: no decision was asked for (the request was refused before the policy)")
        return
    print(f"rules that decided (from {policies}):")
    try:
        steps = explain(str(ensure_opa()), policies, input_doc)
    except OPANotFound as e:
        print(f"explain: {e}", file=sys.stderr)
        return
    for step in steps:
        print(f"  {step}")
