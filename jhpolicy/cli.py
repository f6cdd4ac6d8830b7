"""The `jhpolicy` command.

`jhpolicy check` answers "what would the spawner do with this request?" by
running the spawner's own code: a real PolicyKubeSpawner asks OPA, applies
the decision, and KubeSpawner builds the pod manifest (no cluster needed).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import sys
from pathlib import Path

from . import __version__, dry_run
from .dry_run import DryRunError, Who, parse_usage
from .opa_binary import OPA_VERSION, OPANotFound, ensure_opa
from .values import STACKS

EXIT_ALLOWED, EXIT_DENIED, EXIT_ERROR = 0, 1, 2


def _who(args) -> Who:
    requester = None
    if args.as_service:
        requester = f"service:{args.as_service}"
    elif args.as_user:
        requester = f"{'admin' if args.as_admin else 'user'}:{args.as_user}"
    return Who(user=args.user, groups=args.group, admin=args.admin, server=args.server, requester=requester)


def _print_report(report: dict) -> None:
    print(f"user {report['user']} (groups: {', '.join(report['groups']) or 'none'}), server {report['server']!r}")
    for group in report.get("unmatched_groups", []):
        print(f"note: group {group!r} has no entry in the policy's data (groups or quotas.groups): it grants nothing "
              "(group names are case-sensitive)")
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
    from .explain import explain

    if input_doc is None:
        print("explain: no decision was asked for (the request was refused before the policy)")
        return
    print(f"rules that decided (from {policies}):")
    for step in explain(str(ensure_opa()), policies, input_doc):
        print(f"  {step}")


def cmd_replay(args) -> int:
    """Evaluate a decision from OPA's decision log again and compare it with the logged result."""
    from .explain import ExplainError, logged_decisions, pick
    from .local_opa import LocalOPA, bundled_policies
    from .opa_client import Limits, PolicyUnavailable, ask, close_clients

    try:
        entry = pick(logged_decisions(Path(args.replay).read_text()), args.decision_id)
    except (OSError, ExplainError) as e:
        print(f"jhpolicy check --replay: {e}", file=sys.stderr)
        return EXIT_ERROR
    policies = Path(args.policies) if args.policies else bundled_policies()

    async def evaluate(url):
        try:
            return (await ask(url, None, 1, entry.path, entry.input, Limits(10.0, 1, 16 * 2**20))).result
        finally:
            await close_clients()

    try:
        if args.opa_url:
            result = asyncio.run(evaluate(args.opa_url))
        else:
            with LocalOPA([policies]) as opa:
                result = asyncio.run(evaluate(opa.url))
    except (OPANotFound, RuntimeError, PolicyUnavailable) as e:
        print(f"jhpolicy check --replay: {e}", file=sys.stderr)
        return EXIT_ERROR
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


def cmd_check(args) -> int:
    from .local_opa import LocalOPA

    if args.replay:
        return cmd_replay(args)
    if not args.user:
        return _error("check", "--user is required (unless --replay)")
    try:
        user_options = json.loads(args.body)
    except ValueError as e:
        return _error("check", f"--body is not JSON: {e}")
    try:
        usage = parse_usage(_usage_document(Path(args.usage))) if args.usage else None
    except (OSError, ValueError, DryRunError) as e:  # unreadable, not JSON, not usage
        return _error("check", f"--usage {args.usage}: {e}")
    config_notes: list[str] = []
    try:
        config = dry_run.hub_config(args.config, args.values, config_notes)
        if args.opa_url:
            report = asyncio.run(dry_run.run(config, _who(args), user_options, args.opa_url, usage))
            configured = None  # not asked of the admin's OPA: it would be an entry in their decision log
        else:
            with LocalOPA([_policy_folder(args)]) as opa:
                report = asyncio.run(dry_run.run(config, _who(args), user_options, opa.url, usage))
                configured = dry_run.configured_groups(dry_run.policy_data(opa.url))
    except DryRunError as e:
        return _error("check", str(e))
    except (OPANotFound, RuntimeError) as e:
        return _error("check", f"cannot start a local OPA: {_one_line(e)}")
    input_doc = report.pop("input", None)
    report["notes"] = [*config_notes, *report.get("notes", [])]
    report["unmatched_groups"] = dry_run.unmatched_groups(args.group, configured, {})
    reasons = report.pop("reasons", [])
    if args.verbose:
        report["reasons"] = reasons
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True, default=str))
    else:
        _print_report(report)
        if report["status"] == 503 and not args.verbose:
            print("(--verbose shows the reason the hub would log)")
    if args.explain:
        _print_explanation(input_doc, _policy_folder(args))
    if report["status"] == 200:
        return EXIT_ALLOWED
    return EXIT_DENIED if report["status"] == 403 else EXIT_ERROR


def _error(command: str, message: str) -> int:
    print(f"jhpolicy {command}: {message}", file=sys.stderr)
    return EXIT_ERROR


def _usage_document(path: Path):
    """A --usage file: JSON, or YAML (which JSON is a part of)."""
    import yaml

    try:
        return yaml.safe_load(path.read_text())
    except OSError as e:
        raise ValueError(e.strerror or str(e)) from None
    except yaml.YAMLError as e:
        raise ValueError(f"neither JSON nor YAML: {' '.join(str(e).split())[:200]}") from None


def _one_line(error: Exception, limit: int = 400) -> str:
    """An error's text on one line (OPA's own output included, shortened)."""
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def cmd_test(args) -> int:
    import time

    from . import cases
    from .local_opa import LocalOPA

    path = Path(args.cases)
    # Where results go is checked before anything runs.
    outputs = [("--init", path)] if args.init else []
    if args.junit_xml:
        outputs.append(("--junit-xml", Path(args.junit_xml)))
    for flag, written in outputs:
        problem = _unwritable(written)
        if problem:
            return _error("test", f"{flag} {written}: {problem}")
    if args.init:
        return _init_cases(args, path)
    if args.from_replay:
        return _case_from_replay(args, path)
    started = time.monotonic()
    try:
        suite = cases.load(path)  # its paths checked there
        policies = suite.policies if suite.policies and not args.policies else _policy_folder(args)
        config = dry_run.hub_config(args.config or (str(suite.config) if suite.config else None),
                                    args.values or [str(v) for v in suite.values])
        with LocalOPA([policies]) as opa:
            results = cases.run(suite, opa.url, config)
            configured = dry_run.configured_groups(dry_run.policy_data(opa.url))
    except (cases.SuiteError, DryRunError) as e:
        return _error("test", str(e))
    except (OPANotFound, RuntimeError) as e:
        return _error("test", f"cannot start a local OPA on {policies}: {_one_line(e)}")
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
    unmatched = sorted({g for r in results for g in dry_run.unmatched_groups(
        r.case.who.groups, configured, r.case.who.group_properties)})
    for group in unmatched:
        print(f"note: group {group!r} has no entry in the policy's data: it grants nothing (names are case-sensitive)")
    failed = sum(not r.passed for r in results)
    print(f"{len(results)} cases: {len(results) - failed} passed, {failed} failed "
          f"(policies: {policies}, {time.monotonic() - started:.1f} s)")
    if args.junit_xml:
        Path(args.junit_xml).write_text(cases.junit_xml(results, suite))
    return EXIT_DENIED if failed else 0


def _unwritable(path: Path) -> str | None:
    """Why a file cannot be written at `path`, or None."""
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        return "is a folder"
    for above in [parent, *parent.parents]:
        if above.exists():
            if not above.is_dir():
                return f"{above} is a file, not a folder"
            break
    if not parent.is_dir():
        return f"no such folder {parent}"
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        return "not writable"
    return None


def _init_cases(args, path: Path) -> int:
    """A starter suite: requests made from the data's entries, expecting what the policy does now."""
    import datetime

    from . import cases
    from .local_opa import LocalOPA

    if path.exists() and not args.force:
        return _error("test", f"{path} exists; --init writes a new file (add --force to replace it)")
    policies = _policy_folder(args)
    try:
        config = dry_run.hub_config(args.config, args.values)
        with LocalOPA([policies]) as opa:
            data = dry_run.policy_data(opa.url)
            if data is None:
                return _error("test", f"{policies}: no data.jhpolicy to make cases from")
            written = []
            for name, who, body in cases.starter_requests(data):
                report = asyncio.run(dry_run.run(config, who, body, opa.url))
                written.append(cases.case_from_report(name, who, body, report))
    except DryRunError as e:
        return _error("test", str(e))
    except (OPANotFound, RuntimeError) as e:
        return _error("test", f"cannot start a local OPA on {policies}: {_one_line(e)}")
    header = (f"Made by `jhpolicy test --init` from {policies} on {datetime.date.today()}.\n"
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


def _case_from_replay(args, path: Path) -> int:
    """Append the logged decision as a case (creating the file if needed)."""
    import yaml

    from . import cases
    from .explain import ExplainError, logged_decisions, pick

    try:
        entry = pick(logged_decisions(Path(args.from_replay).read_text()), args.decision_id)
        who, body, usage, expect = cases.from_logged(entry)
    except OSError as e:
        return _error("test", f"--from-replay {args.from_replay}: {e.strerror or e}")
    except (ExplainError, cases.SuiteError) as e:
        return _error("test", f"--from-replay {args.from_replay}: {e}")
    case = {**cases.case_of(f"decision {entry.decision_id}", who, body, usage), "expect": expect}
    if path.exists():
        current = path.read_text()
        try:
            existing = yaml.safe_load(current) or {}
        except yaml.YAMLError as e:
            return _error("test", f"{path}: not YAML: {str(e).splitlines()[0]}")
        if not isinstance(existing, dict) or not isinstance(existing.get("cases", []), list):
            return _error("test", f"{path}: not a suite (a mapping with a list of cases)")
        if any(isinstance(c, dict) and c.get("name") == case["name"] for c in existing.get("cases") or []):
            return _error("test", f"{path} already has a case named {case['name']!r}")
        # Appended as text, so the admin's comments stay; it must read back as the suite's last case.
        text = current.rstrip("\n") + ("\n" if "cases" in existing else "\ncases:\n")
        text += yaml.safe_dump([case], sort_keys=False, width=110)
        if (yaml.safe_load(text).get("cases") or [None])[-1] != case:
            return _error("test", f"{path}: cannot append a case: put \"cases:\" last in the file")
    else:
        text = cases.dump([case], f"Cases made by `jhpolicy test --from-replay` from {args.from_replay}.")
    path.write_text(text)
    print(f"{path}: added case {case['name']!r} (expects the logged decision: {expect['outcome']})")
    return 0


def cmd_init(args) -> int:
    from .starter import StarterError, init

    folder = Path(args.folder)
    try:
        written = init(folder)
    except (StarterError, OSError) as e:
        return _error("init", str(e))
    for path in written:
        print(folder / path)
    print(f"next: edit {folder}/policies/data.json and {folder}/cases.yaml, then: jhpolicy test {folder}/cases.yaml")
    return 0


def cmd_install_opa(args) -> int:
    try:
        print(ensure_opa(Path(args.tools_dir) if args.tools_dir else None))
    except OPANotFound as e:
        return _error("install-opa", _one_line(e))
    return 0


def _policy_folder(args) -> Path:
    from .local_opa import bundled_policies

    if not args.policies:
        return bundled_policies()
    folder = Path(args.policies)
    if not folder.is_dir():
        raise DryRunError(f"--policies {folder}: no such folder")
    return folder


def _lint_problems(command: str, folder: Path, warn: bool = False) -> int | None:
    """Print the folder's problems (jhpolicy.lint) as `command: ...`, and
    with `warn` its warnings when it has no problems; the exit code if any
    problem was found or it could not be checked, else None."""
    from .lint import LintError, check

    try:
        found, warned = check(str(ensure_opa()), folder)
    except (LintError, OPANotFound) as e:
        print(f"jhpolicy {command}: {e}", file=sys.stderr)
        return EXIT_ERROR
    for problem in found:
        print(f"jhpolicy {command}: {folder}: {problem}", file=sys.stderr)
    if found:
        return EXIT_DENIED
    for warning in warned if warn else ():
        print(f"jhpolicy {command}: {folder}: warning: {warning}", file=sys.stderr)
    return None


def cmd_lint(args) -> int:
    folder = _policy_folder(args)
    failed = _lint_problems("lint", folder, warn=True)
    if failed is None:
        print(f"{folder}: OPA loads it and its data has no problems")
    return failed or 0


def cmd_configmap(args) -> int:
    from .configmap import manifest, to_yaml
    from .values import shipped_values

    if args.opa_authz and args.policies:
        return _error("configmap", "give --opa-authz or --policies, not both")
    folder = shipped_values() / "opa-authz" if args.opa_authz else _policy_folder(args)
    name = args.name or ("jhpolicy-opa-authz" if args.opa_authz else "jhpolicy-policies")
    failed = _lint_problems("configmap", folder)
    if failed is not None:
        return failed
    try:
        document = manifest(folder, name, args.namespace)
    except ValueError as e:
        print(f"jhpolicy configmap: {e}", file=sys.stderr)
        return EXIT_ERROR
    sys.stdout.write(to_yaml(document))
    return 0


def cmd_bundle(args) -> int:
    from .bundle import BundleError, build

    folder = _policy_folder(args)
    failed = _lint_problems("bundle", folder)
    if failed is not None:
        return failed
    try:
        out = build(
            str(ensure_opa()),
            folder,
            Path(args.output),
            signing_key=Path(args.signing_key),
            keyid=args.keyid,
            revision=args.revision,
            signing_alg=args.signing_alg,
        )
    except (BundleError, OPANotFound) as e:
        print(f"jhpolicy bundle: {e}", file=sys.stderr)
        return EXIT_ERROR
    print(out)
    return 0


def cmd_wheels_configmap(args) -> int:
    from .configmap import to_yaml, wheels_manifest

    import yaml

    from .configmap import MAX_CONFIGMAP_BYTES

    try:
        document, values = wheels_manifest([Path(w) for w in args.wheels], args.name, args.namespace)
        Path(args.values_out).write_text(
            "# Made by `jhpolicy wheels-configmap`: add it after the stack, e.g.\n"
            f"#   jhpolicy values --stack no-image-build -f config.yaml -f {args.values_out}\n"
            + yaml.safe_dump(values, sort_keys=False, width=1000))
    except (OSError, ValueError) as e:
        return _error("wheels-configmap", str(e))
    sys.stdout.write(to_yaml(document))
    size = sum(len(base64.b64decode(v)) for v in document["binaryData"].values())
    print(f"jhpolicy wheels-configmap: {len(document['binaryData'])} wheels, {size:,} bytes of the {MAX_CONFIGMAP_BYTES:,} "
          f"a ConfigMap holds ({size / MAX_CONFIGMAP_BYTES:.0%}); the hub imports them by sha256 as {args.values_out} says. "
          "Apply it with `kubectl apply --server-side` (client-side apply copies it into an annotation of at most "
          "262,144 bytes)", file=sys.stderr)
    return 0


def cmd_opa_config(args) -> int:
    import yaml

    from .bundle import sidecar_config
    from .configmap import configmap, to_yaml

    try:
        public_key = Path(args.public_key).read_text()
    except OSError as e:
        print(f"jhpolicy opa-config: {e}", file=sys.stderr)
        return EXIT_ERROR
    config = sidecar_config(args.server_url, keyid=args.keyid, public_key=public_key, hub=args.hub,
                            resource=args.resource, algorithm=args.algorithm)
    document = configmap(args.name, {"opa-config.yaml": yaml.safe_dump(config, sort_keys=False)}, args.namespace)
    sys.stdout.write(to_yaml(document))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jhpolicy", description="OPA spawn policies for JupyterHub's KubeSpawner")
    parser.add_argument("--version", action="version", version=f"jhpolicy {__version__} (OPA {OPA_VERSION})")
    sub = parser.add_subparsers(dest="command", required=True)

    check = sub.add_parser(
        "check",
        help="show what the spawner would do with a spawn request",
        description="Run a spawn request through PolicyKubeSpawner and print the decision and the pod's "
        "image and resources. Exit 0 allowed, 1 denied, 2 error.",
    )
    check.add_argument("--user", help="the user whose server is started (required unless --replay)")
    check.add_argument("--group", action="append", default=[], help="a group of the user (repeat)")
    check.add_argument("--admin", action="store_true", help="the user is a JupyterHub admin")
    check.add_argument("--server", default="", help="named server ('' = the default server)")
    who = check.add_mutually_exclusive_group()
    who.add_argument("--as-service", metavar="NAME", help="the request comes from this JupyterHub service")
    who.add_argument("--as-user", metavar="NAME", help="the request comes from this (other) user")
    check.add_argument("--as-admin", action="store_true", help="with --as-user: that user is an admin")
    check.add_argument("--body", default="{}", help="the REST API request body (becomes user_options), JSON")
    check.add_argument("--opa-url", help="ask this OPA; default: start a local OPA on --policies")
    check.add_argument("--policies", help="policy folder for the local OPA (default: the bundled policies)")
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
    check.add_argument(
        "--replay", metavar="FILE",
        help="evaluate a decision from OPA's decision log (JSON lines) again and compare it with the logged "
        "result; exit 0 same, 1 different, 2 error. --user and --body are not needed",
    )
    check.add_argument("--decision-id", help="with --replay: which decision of the file")
    check.set_defaults(func=cmd_check)

    test = sub.add_parser(
        "test",
        help="run a table of spawn requests and what each must give (an admin's cases for their policy)",
        description="Run every case of CASES.yaml through PolicyKubeSpawner's input path against a local OPA on "
        "the policy folder, and compare outcome, pod values, message and charge. Exit 0: all passed; 1: a case "
        "failed; 2: the suite is empty, malformed or could not run. No cluster, no hub.",
    )
    test.add_argument("cases", metavar="CASES.yaml", help="the suite (see the docs, \"Test your data\")")
    test.add_argument("--policies", help="policy folder (default: the suite's \"policies\", else the bundled policies)")
    test.add_argument("--config", help="a jupyterhub_config.py to load (default: the suite's \"config\")")
    test.add_argument("--values", metavar="FILE", action="append",
                      help="a z2jh values file (repeat; default: the suite's \"values\"), as in jhpolicy check")
    test.add_argument("--junit-xml", metavar="FILE", help="also write the results as JUnit XML, for CI")
    test.add_argument("--verbose", action="store_true", help="also show what the hub would log for every case")
    test.add_argument("--init", action="store_true",
                      help="write a starter CASES.yaml from the policy's data, expecting what the policy does now")
    test.add_argument("--force", action="store_true", help="with --init: replace an existing file")
    test.add_argument("--from-replay", metavar="LOG",
                      help="add a case to CASES.yaml made from a decision of OPA's decision log (JSON lines)")
    test.add_argument("--decision-id", help="with --from-replay: which decision of the log")
    test.set_defaults(func=cmd_test)

    init = sub.add_parser(
        "init",
        help="copy the shipped policies, cases and a CI workflow into a new folder, to edit as your own",
        description="Write DIR/policies/ (the shipped .rego files, their tests and data.json), DIR/cases.yaml "
        "with the hub config it runs with (cases_hub_config.py), and DIR/.github/workflows/jhpolicy.yml, which "
        "runs opa fmt, opa check --strict, opa test, jhpolicy lint and jhpolicy test. DIR must be new or empty.",
    )
    init.add_argument("folder", metavar="DIR")
    init.set_defaults(func=cmd_init)

    install = sub.add_parser("install-opa", help=f"find or install OPA {OPA_VERSION}; prints its path")
    install.add_argument("--tools-dir", help="where to put it (default: .tools/bin in a source checkout of jhpolicy; "
                         "for an installed package the user's cache, $XDG_CACHE_HOME/jhpolicy/bin or ~/.cache/jhpolicy/bin)")
    install.set_defaults(func=cmd_install_opa)
    lint = sub.add_parser(
        "lint",
        help="check a policy folder: what OPA would not load, and every problem in its data",
        description="Run `opa check --strict` on the folder, then the policy's own data checks over all of "
        "data.jhpolicy (every group, requester and quota, whoever it governs). Exit 0: fit to ship; 1: problems "
        "found (one per line on stderr); 2: it could not be checked. configmap and bundle run it first.",
    )
    lint.add_argument("--policies", help="policy folder (default: the bundled policies)")
    lint.set_defaults(func=cmd_lint)

    configmap = sub.add_parser(
        "configmap",
        help="print the ConfigMap that carries the policies to the OPA sidecar",
        description="Print a ConfigMap manifest with the policy folder's .rego and data files "
        "(tests left out), e.g.: jhpolicy configmap | kubectl apply -n jhub -f -. Refused (exit 1) when "
        "jhpolicy lint finds problems in the folder.",
    )
    configmap.add_argument("--policies", help="policy folder (default: the bundled policies)")
    configmap.add_argument("--opa-authz", action="store_true",
                           help="instead of policies: the OPA sidecar's authorization policy for token auth "
                                "(helm-values/opa-authz, --stack token-auth), named jhpolicy-opa-authz")
    configmap.add_argument("--name", help="ConfigMap name (default: jhpolicy-policies, or jhpolicy-opa-authz with --opa-authz)")
    configmap.add_argument("--namespace", help="namespace to put in the manifest")
    configmap.set_defaults(func=cmd_configmap)

    bundle = sub.add_parser(
        "bundle",
        help="build a signed OPA bundle of the policies and data, for a bundle server",
        description="Build the policy folder's .rego and data files (tests left out) into an OPA bundle "
        "with `opa build`, signed with --signing-key; the signature names --keyid. Prints the bundle's path. "
        "Refused (exit 1) when jhpolicy lint finds problems in the folder.",
    )
    bundle.add_argument("--policies", help="policy folder (default: the bundled policies)")
    bundle.add_argument("-o", "--output", default="bundle.tar.gz", help="bundle file to write (default: bundle.tar.gz)")
    bundle.add_argument("--signing-key", required=True, help="PEM private key (RSA or ECDSA) to sign with")
    bundle.add_argument("--keyid", required=True, help="the key's name, as the sidecars' keys config has it")
    bundle.add_argument("--revision", required=True, help="revision to stamp (e.g. the git commit); decision logs carry it")
    bundle.add_argument("--signing-alg", default="RS256", help="signing algorithm (default: RS256)")
    bundle.set_defaults(func=cmd_bundle)

    wheels = sub.add_parser(
        "wheels-configmap",
        help="print the ConfigMap of wheels for a hub without its own image (helm-values/jhpolicy-no-image-build.yaml)",
        description="Print a ConfigMap whose binaryData holds the given pure-Python wheels: jhpolicy's and those the "
        "z2jh hub image lacks (httpx, httpcore, h11, anyio), and write the values (hub.extraConfig) that make the "
        "hub import exactly these, each checked by its sha256. Apply the ConfigMap with `kubectl apply "
        "--server-side`: client-side apply copies it into an annotation the API server caps at 262,144 bytes.",
    )
    wheels.add_argument("wheels", nargs="+", metavar="WHEEL")
    wheels.add_argument("--values-out", default="jhpolicy-wheels-values.yaml", metavar="FILE",
                        help="where to write the values that pin the wheels (default: jhpolicy-wheels-values.yaml); "
                        "give it to `jhpolicy values` after the stack")
    wheels.add_argument("--name", default="jhpolicy-wheels", help="ConfigMap name (default: jhpolicy-wheels)")
    wheels.add_argument("--namespace", help="namespace to put in the manifest")
    wheels.set_defaults(func=cmd_wheels_configmap)

    opa_config = sub.add_parser(
        "opa-config",
        help="print the ConfigMap with the OPA sidecar's configuration for a bundle server",
        description="Print a ConfigMap holding opa-config.yaml for helm-values/jhpolicy-bundles.yaml: the bundle "
        "server, mandatory signature verification with --keyid and --public-key, a persisted last good bundle, "
        "and the hub's name in every decision log entry.",
    )
    opa_config.add_argument("--server-url", required=True, help="the bundle server's base URL")
    opa_config.add_argument("--keyid", required=True, help="the signing key's name (as given to jhpolicy bundle)")
    opa_config.add_argument("--public-key", required=True, help="PEM public key that verifies the bundles")
    opa_config.add_argument("--hub", required=True, help="this hub's name, for decision logs")
    opa_config.add_argument("--resource", default="bundles/jhpolicy.tar.gz", help="the bundle's path on the server")
    opa_config.add_argument("--algorithm", default="RS256", help="signature algorithm (default: RS256)")
    opa_config.add_argument("--name", default="jhpolicy-opa-config", help="ConfigMap name (default: jhpolicy-opa-config)")
    opa_config.add_argument("--namespace", help="namespace to put in the manifest")
    opa_config.set_defaults(func=cmd_opa_config)

    values = sub.add_parser(
        "values",
        help="combine Helm values files, joining lists instead of replacing them",
        description="Print one values file made of jhpolicy's shipped values for a setup (--stack) and then your "
        "own files (-f), applied in that order as Helm would, so that what your files set wins, except that "
        "lists of named entries (hub.extraVolumes, hub.extraVolumeMounts, hub.extraContainers, list-form "
        "hub.extraEnv) are joined, so your own entries survive jhpolicy's. E.g.: jhpolicy values --stack plain "
        "-f config.yaml > combined.yaml",
    )
    values.add_argument("-f", "--values", dest="files", action="append", default=[],
                        help="a values file of yours (repeat, in Helm's order); applied after the --stack")
    values.add_argument("--stack", choices=sorted(STACKS),
                        help="jhpolicy's shipped values for this setup, applied before your -f files: plain "
                        "(policies from a ConfigMap, your hub image), token-auth (the sidecar admits only the hub), "
                        "bundles (signed bundles from a bundle server), no-image-build and no-image-build-token-auth "
                        "(the chart's hub image, jhpolicy's wheels from a ConfigMap); works from an installed package")
    values.add_argument("--explain", action="store_true",
                        help="also print, on standard error, which file set each value (KEY.PATH: FILE)")
    values.set_defaults(func=cmd_values)
    return parser


def cmd_values(args) -> int:
    import yaml

    from .values import PLACEHOLDER_IMAGE, ValuesError, combine, placeholder_image, stack_files

    origin: dict = {}
    try:
        # The stack first, the admin's files last: what they set wins.
        files = (stack_files(args.stack) if args.stack else []) + [Path(f) for f in args.files]
        if not files:
            return _error("values", "give values files (-f) or a --stack")
        texts = []
        for f in files:
            try:
                texts.append(f.read_text())
            except OSError as e:
                raise ValuesError(f"{f}: {e.strerror or e}") from None
        combined = combine(texts, [str(f) for f in files], origin)
    except (ValuesError, yaml.YAMLError) as e:
        return _error("values", " ".join(str(e).split()))
    sys.stdout.write("# Made by `jhpolicy values` from: " + ", ".join(map(str, files)) + "\n")
    sys.stdout.write(yaml.safe_dump(combined, sort_keys=False))
    if args.explain:
        for key in sorted(origin):
            print(f"{key}: {origin[key]}", file=sys.stderr)
    if placeholder_image(combined):
        print(f"jhpolicy values: note: hub.image.name is the placeholder {PLACEHOLDER_IMAGE}: set hub.image.name and "
              "hub.image.tag in your own values to the image you built from hub-image/Dockerfile and pushed",
              file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        # The command's own usage, and the option meant where one is close
        # (argparse alone prints the top-level usage for `check --groups`).
        import difflib

        command = parser._subparsers._group_actions[0].choices[args.command]  # noqa: SLF001
        options = [o for action in command._actions for o in action.option_strings]  # noqa: SLF001
        close = difflib.get_close_matches(unknown[0].split("=")[0], options, n=1)
        command.error(f"unrecognized arguments: {' '.join(unknown)}" + (f" (did you mean {close[0]}?)" if close else ""))
    if args.command in ("check", "test"):
        from .offline import use_offline_kube_config

        use_offline_kube_config()
    try:
        return args.func(args)
    except DryRunError as e:  # what the admin gave (a folder, a file) is not there or not usable
        return _error(args.command, str(e))
    except ModuleNotFoundError as e:  # installed without the CLI's extra
        return _error(args.command, f"needs {e.name}: pip install 'jhpolicy[cli]'")
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `jhpolicy check ... | head`: the reader has gone, nothing more to say
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_ERROR
    except Exception as e:  # nothing the admin did should show them a traceback: one line, exit 2
        if os.environ.get("JHPOLICY_DEBUG"):
            raise
        print(f"jhpolicy {args.command}: {type(e).__name__}: {_one_line(e)} "
              "(a bug of jhpolicy's: please report it; JHPOLICY_DEBUG=1 shows the traceback)", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
