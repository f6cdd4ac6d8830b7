"""The admin's cases (CASES.yaml): `jhpolicy test` runs them against their
policy, `jhpolicy init-cases` writes a starter suite from the policy's data,
`jhpolicy add-case` adds a case made from a logged decision."""

from __future__ import annotations

import asyncio
import datetime
import os
import time
from pathlib import Path

from ..tooling import dry_run
from .common import (EXIT_DENIED, decision_log_arguments, error, policies_option, policy_folder, policy_opa, renamed,
                     suite_error_text, unwritable)


def register(sub) -> None:
    test = sub.add_parser(
        "test",
        help="run a table of spawn requests and what each must give (an admin's cases for their policy)",
        description="Run every case of CASES.yaml through PolicyKubeSpawner's input path against a local OPA on "
        "the policy folder, and compare outcome, pod values, message and charge. Exit 0: all passed; 1: a case "
        "failed; 2: the suite is empty, malformed or could not run. No cluster, no hub.",
    )
    test.add_argument("cases", metavar="CASES.yaml", help="the suite (see the docs, \"Test your data\")")
    policies_option(test, "policy folder (default: the suite's \"policies\", else the bundled policies)")
    test.add_argument("--config", help="a jupyterhub_config.py to load (default: the suite's \"config\")")
    test.add_argument("--values", metavar="FILE", action="append",
                      help="a z2jh values file (repeat; default: the suite's \"values\"), as in jhpolicy check")
    test.add_argument("--junit-xml", metavar="FILE", help="also write the results as JUnit XML, for CI")
    test.add_argument("--verbose", action="store_true", help="also show what the hub would log for every case")
    renamed(test, "--init", "jhpolicy init-cases CASES.yaml")
    renamed(test, "--from-replay", "jhpolicy add-case CASES.yaml LOG [--decision-id ID]")
    test.set_defaults(func=cmd_test)

    init = sub.add_parser(
        "init-cases",
        help="write a starter CASES.yaml from the policy's data, expecting what the policy does now",
        description="For each entry of the policy's data: an empty request, its most CPU, twice that, each of its "
        "extended resources and an image none of its patterns allows, each expecting what the policy does now. "
        "Read every expectation before you keep it. The file records the policies, config and values it ran with.",
    )
    init.add_argument("cases", metavar="CASES.yaml", help="the suite to write")
    policies_option(init)
    init.add_argument("--config", help="a jupyterhub_config.py to load, as in jhpolicy check")
    init.add_argument("--values", metavar="FILE", action="append", help="a z2jh values file (repeat), as in jhpolicy check")
    init.add_argument("--force", action="store_true", help="replace an existing file")
    init.set_defaults(func=cmd_init_cases)

    add = sub.add_parser(
        "add-case",
        help="add to CASES.yaml a case made from a decision of OPA's decision log",
        description="Append a case made from a decision log entry (OPA's JSON lines: a user's complaint, say), "
        "expecting the logged result; the file is created if needed and its comments are kept.",
    )
    add.add_argument("cases", metavar="CASES.yaml", help="the suite to add to")
    decision_log_arguments(add)
    add.set_defaults(func=cmd_add_case)


def cmd_test(args) -> int:
    from ..tooling import cases

    path = Path(args.cases)
    # Where results go is checked before anything runs.
    if args.junit_xml:
        problem = unwritable(Path(args.junit_xml))
        if problem:
            return error("test", f"--junit-xml {args.junit_xml}: {problem}")
    started = time.monotonic()
    try:
        suite = cases.load(path)  # its paths checked there
    except cases.SuiteError as e:
        return error("test", suite_error_text(e))
    policies = suite.policies if suite.policies and not args.policies else policy_folder(args)
    config = dry_run.hub_config(args.config or (str(suite.config) if suite.config else None),
                                args.values or [str(v) for v in suite.values])
    try:
        with policy_opa(policies) as opa:
            results = cases.run(suite, opa.url, config)
            group_notes = opa.unmatched_group_notes([(r.case.who.groups, r.case.who.group_properties) for r in results])
    except cases.SuiteError as e:
        return error("test", suite_error_text(e))
    for r in results:
        print(f"{'ok  ' if r.passed else 'FAIL'}  {path}:{r.case.line}  {r.case.name}")
        for mismatch in r.mismatches:
            print(f"        {mismatch}")
        if not r.passed:
            said = [r.report["message"]] if "message" in r.report else r.report.get("messages") or []
            print(f"        said: {'; '.join(said) or 'nothing'}")
        if args.verbose or not r.passed:
            for reason in r.report.get("reasons", []):
                print(f"        reason (hub log): {reason}")
    for note in group_notes.values():
        print(f"note: {note}")
    failed = sum(not r.passed for r in results)
    print(f"{len(results)} cases: {len(results) - failed} passed, {failed} failed "
          f"(policies: {policies}, {time.monotonic() - started:.1f} s)")
    if args.junit_xml:
        Path(args.junit_xml).write_text(cases.junit_xml(results, suite))
    return EXIT_DENIED if failed else 0


def cmd_init_cases(args) -> int:
    """A starter suite: requests made from the data's entries, expecting what the policy does now."""
    from ..tooling import cases

    path = Path(args.cases)
    if path.exists() and not args.force:
        return error("init-cases", f"{path} exists (add --force to replace it)")
    problem = unwritable(path)
    if problem:
        return error("init-cases", f"{path}: {problem}")
    policies = policy_folder(args)
    config = dry_run.hub_config(args.config, args.values)
    with policy_opa(policies) as opa:
        data = opa.data()
        if data is None:
            return error("init-cases", f"{policies}: no data.jhpolicy to make cases from")
        written = [cases.case_from_report(name, who, body, asyncio.run(dry_run.run(config, who, body, opa.url)))
                   for name, who, body in cases.starter_requests(data)]
    header = (f"Made by `jhpolicy init-cases` from {policies} on {datetime.date.today()}.\n"
              "Each case expects what the policy does NOW: read every expectation and fix the ones that are\n"
              "not what you mean, then add your own. Run: jhpolicy test " + str(path))
    # What it ran with, relative to the suite, so `jhpolicy test FILE` alone runs it the same way.
    here = path.resolve().parent
    sources: dict = {"policies": os.path.relpath(Path(policies).resolve(), here)}
    if args.config:
        sources["config"] = os.path.relpath(Path(args.config).resolve(), here)
    if args.values:
        sources["values"] = [os.path.relpath(Path(v).resolve(), here) for v in args.values]
    path.write_text(cases.dump(written, header, sources))
    print(f"{path}: {len(written)} cases")
    return 0


def cmd_add_case(args) -> int:
    """Append the logged decision as a case (creating the file if needed)."""
    import yaml

    from ..tooling import cases
    from ..tooling.explain import ExplainError, logged_decisions, pick

    path = Path(args.cases)
    try:
        entry = pick(logged_decisions(Path(args.log).read_text()), args.decision_id)
        who, body, usage, expect = cases.from_logged(entry)
    except OSError as e:
        return error("add-case", f"{args.log}: {e.strerror or e}")
    except (ExplainError, cases.SuiteError) as e:
        return error("add-case", f"{args.log}: {e}")
    case = {**cases.case_of(f"decision {entry.decision_id}", who, body, usage), "expect": expect}
    if path.exists():
        current = path.read_text()
        try:
            existing = yaml.safe_load(current) or {}
        except yaml.YAMLError as e:
            return error("add-case", f"{path}: not YAML: {str(e).splitlines()[0]}")
        if not isinstance(existing, dict) or not isinstance(existing.get("cases", []), list):
            return error("add-case", f"{path}: not a suite (a mapping with a list of cases)")
        if any(isinstance(c, dict) and c.get("name") == case["name"] for c in existing.get("cases") or []):
            return error("add-case", f"{path} already has a case named {case['name']!r}")
        # Appended as text, so the admin's comments stay; it must read back as the suite's last case.
        text = current.rstrip("\n") + ("\n" if "cases" in existing else "\ncases:\n")
        text += yaml.safe_dump([case], sort_keys=False, width=110)
        if (yaml.safe_load(text).get("cases") or [None])[-1] != case:
            return error("add-case", f"{path}: cannot append a case: put \"cases:\" last in the file")
    else:
        text = cases.dump([case], f"Cases made by `jhpolicy add-case` from {args.log}.")
    path.write_text(text)
    print(f"{path}: added case {case['name']!r} (expects the logged decision: {expect['outcome']})")
    return 0
