"""The `jhpolicy` command.

`jhpolicy check` answers "what would the spawner do with this request?" by
running the spawner's own code: a real PolicyKubeSpawner asks OPA, applies
the decision, and KubeSpawner builds the pod manifest (no cluster needed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from tornado import web
from traitlets.config import Config, PyFileConfigLoader

from . import __version__
from .errors import message_of
from .ledger import Ledger, Totals
from .opa_client import close_clients
from .opa_binary import OPA_VERSION, OPANotFound, ensure_opa

EXIT_ALLOWED, EXIT_DENIED, EXIT_ERROR = 0, 1, 2


def _load_config(path: str | None) -> Config:
    if not path:
        return Config()
    config_path = Path(path).resolve()
    loader = PyFileConfigLoader(config_path.name, str(config_path.parent))
    return loader.load_config()


def _requester(args):
    from .offline import OfflineRequester

    if args.as_service:
        return OfflineRequester(name=args.as_service, kind="service")
    if args.as_user:
        return OfflineRequester(name=args.as_user, kind="user", admin=args.as_admin)
    return OfflineRequester(name=args.user, kind="user", admin=args.admin)


class FixedUsage(Ledger):
    """Books that read as a given input.usage (``--usage``): the totals
    given, zero for the rest."""

    def __init__(self, usage: dict) -> None:
        super().__init__()
        self.fixed = usage

    def _scope(self, name: str, key) -> dict:
        given = self.fixed.get(name, {})
        if name == "user_by_group":
            given = given.get(key[1])
        elif name == "groups":
            given = given.get(key)
        return {**Totals().as_input(), **(given or {})}


async def _run_check(args, user_options: dict, opa_url: str, usage: dict | None = None) -> dict:
    from .offline import OfflineHub, OfflineUser, apply_group_overrides, make_spawner, pod_summary, pod_to_create

    config = _load_config(args.config)
    config.PolicyKubeSpawner.opa_url = opa_url
    user = OfflineUser(name=args.user, groups=args.group, admin=args.admin)
    hub = OfflineHub()
    if usage is not None:
        hub._jhpolicy_ledger = FixedUsage(usage)
    spawner = make_spawner(config, user, user_options, args.server, _requester(args), hub=hub)
    report = {"user": args.user, "groups": args.group, "server": args.server}
    try:
        await apply_group_overrides(spawner)
        pod = await pod_to_create(spawner)
    except web.HTTPError as e:
        report.update(status=e.status_code, outcome=spawner.policy_outcome, message=message_of(e))
        report["input"] = spawner.policy_input
        return report
    finally:
        await close_clients()
    report["input"] = spawner.policy_input
    report.update(
        status=200,
        outcome=spawner.policy_outcome,
        messages=spawner.policy_messages,
        applied=spawner.policy_applied,
        charge=spawner.policy_decision.charge if spawner.policy_decision else None,
        pod=pod_summary(pod),
    )
    return report


def _print_report(report: dict) -> None:
    print(f"user {report['user']} (groups: {', '.join(report['groups']) or 'none'}), server {report['server']!r}")
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


def _read_usage(path: str) -> dict:
    """input.usage from a JSON file; CPU and memory may be written as in
    jupyterhub_config.py ("4G", 2.5), extended resources as whole numbers."""
    from .quantities import PARSERS

    doc = json.loads(Path(path).read_text())
    if not isinstance(doc, dict) or set(doc) - {"user", "user_by_group", "groups", "hub"}:
        raise ValueError('expected an object with any of "user", "user_by_group", "groups", "hub"')

    def totals(where: str, value) -> dict:
        if not isinstance(value, dict):
            raise ValueError(f"{where} is not an object")
        parsed = {}
        for key, amount in value.items():
            if key == "extra_resources" and isinstance(amount, dict) and all(
                    isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in amount.values()):
                parsed[key] = amount
            elif key == "servers" and isinstance(amount, int) and not isinstance(amount, bool) and amount >= 0:
                parsed[key] = amount
            elif key in PARSERS and key.startswith(("cpu_", "mem_")):
                try:
                    parsed[key] = 0 if amount == 0 else PARSERS[key](key, amount)
                except ValueError as e:
                    raise ValueError(f"{where}.{e}") from None
            else:
                raise ValueError(f"{where}.{key}: not a usage amount: {amount!r:.50}")
        return parsed

    usage = {}
    for scope in ("user", "hub"):
        if scope in doc:
            usage[scope] = totals(scope, doc[scope])
    for scope in ("user_by_group", "groups"):
        if scope in doc:
            if not isinstance(doc[scope], dict):
                raise ValueError(f"{scope} is not an object of group name to totals")
            usage[scope] = {g: totals(f"{scope}.{g}", t) for g, t in doc[scope].items()}
    return usage


def cmd_check(args) -> int:
    from .local_opa import LocalOPA, bundled_policies

    if args.replay:
        return cmd_replay(args)
    if not args.user:
        print("jhpolicy check: --user is required (unless --replay)", file=sys.stderr)
        return EXIT_ERROR
    try:
        user_options = json.loads(args.body)
    except ValueError as e:
        print(f"jhpolicy check: --body is not JSON: {e}", file=sys.stderr)
        return EXIT_ERROR
    try:
        usage = _read_usage(args.usage) if args.usage else None
    except (OSError, ValueError) as e:
        print(f"jhpolicy check: --usage {args.usage}: {e}", file=sys.stderr)
        return EXIT_ERROR
    if args.opa_url:
        report = asyncio.run(_run_check(args, user_options, args.opa_url, usage))
    else:
        policies = args.policies or bundled_policies()
        try:
            with LocalOPA([policies]) as opa:
                report = asyncio.run(_run_check(args, user_options, opa.url, usage))
        except (OPANotFound, RuntimeError) as e:
            print(f"jhpolicy check: cannot start a local OPA: {e}", file=sys.stderr)
            return EXIT_ERROR
    input_doc = report.pop("input", None)
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True, default=str))
    else:
        _print_report(report)
    if args.explain:
        _print_explanation(input_doc, Path(args.policies) if args.policies else bundled_policies())
    if report["status"] == 200:
        return EXIT_ALLOWED
    return EXIT_DENIED if report["status"] == 403 else EXIT_ERROR


def cmd_install_opa(args) -> int:
    try:
        print(ensure_opa(Path(args.tools_dir) if args.tools_dir else None))
    except OPANotFound as e:
        print(e, file=sys.stderr)
        return EXIT_ERROR
    return 0


def _policy_folder(args) -> Path:
    from .local_opa import bundled_policies

    return Path(args.policies) if args.policies else bundled_policies()


def _lint_problems(command: str, folder: Path) -> int | None:
    """Print the folder's problems (jhpolicy.lint) as `command: ...`; the
    exit code if any were found or it could not be checked, else None."""
    from .lint import LintError, problems

    try:
        found = problems(str(ensure_opa()), folder)
    except (LintError, OPANotFound) as e:
        print(f"jhpolicy {command}: {e}", file=sys.stderr)
        return EXIT_ERROR
    for problem in found:
        print(f"jhpolicy {command}: {folder}: {problem}", file=sys.stderr)
    return EXIT_DENIED if found else None


def cmd_lint(args) -> int:
    folder = _policy_folder(args)
    failed = _lint_problems("lint", folder)
    if failed is None:
        print(f"{folder}: OPA loads it and its data has no problems")
    return failed or 0


def cmd_configmap(args) -> int:
    from .configmap import manifest, to_yaml

    folder = _policy_folder(args)
    failed = _lint_problems("configmap", folder)
    if failed is not None:
        return failed
    try:
        document = manifest(folder, args.name, args.namespace)
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
        "--usage", metavar="FILE",
        help="dry-run against this usage (input.usage as JSON: user, user_by_group, groups, hub) instead of none",
    )
    check.add_argument("--json", action="store_true", help="print the result as JSON")
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

    install = sub.add_parser("install-opa", help=f"find or install OPA {OPA_VERSION}; prints its path")
    install.add_argument("--tools-dir", help="where to put it (default: .tools/bin)")
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
    configmap.add_argument("--name", default="jhpolicy-policies", help="ConfigMap name (default: jhpolicy-policies)")
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
        description="Print one values file made of the given ones, applied in order as Helm would, except that "
        "lists of named entries (hub.extraVolumes, hub.extraVolumeMounts, hub.extraContainers, list-form "
        "hub.extraEnv) are joined, so your own entries survive jhpolicy's. E.g.: jhpolicy values -f config.yaml "
        "-f helm-values/jhpolicy.yaml -f helm-values/hub-image.yaml > combined.yaml",
    )
    values.add_argument("-f", "--values", dest="files", action="append", required=True, help="a values file (repeat, in Helm's order)")
    values.set_defaults(func=cmd_values)
    return parser


def cmd_values(args) -> int:
    import yaml

    from .values import ValuesError, combine

    try:
        combined = combine([Path(f).read_text() for f in args.files])
    except (OSError, ValuesError, yaml.YAMLError) as e:
        print(f"jhpolicy values: {e}", file=sys.stderr)
        return 2
    sys.stdout.write("# Made by `jhpolicy values` from: " + ", ".join(args.files) + "\n")
    sys.stdout.write(yaml.safe_dump(combined, sort_keys=False))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
