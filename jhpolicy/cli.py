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


async def _run_check(args, user_options: dict, opa_url: str) -> dict:
    from .offline import OfflineUser, apply_group_overrides, make_spawner, pod_summary, pod_to_create

    config = _load_config(args.config)
    config.PolicyKubeSpawner.opa_url = opa_url
    user = OfflineUser(name=args.user, groups=args.group, admin=args.admin)
    spawner = make_spawner(config, user, user_options, args.server, _requester(args))
    report = {"user": args.user, "groups": args.group, "server": args.server}
    try:
        await apply_group_overrides(spawner)
        pod = await pod_to_create(spawner)
    except web.HTTPError as e:
        report.update(status=e.status_code, outcome=spawner.policy_outcome, message=message_of(e))
        return report
    finally:
        await close_clients()
    report.update(
        status=200,
        outcome=spawner.policy_outcome,
        messages=spawner.policy_messages,
        applied=spawner.policy_applied,
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
    pod = report["pod"]
    print(f"pod image: {pod['image']}")
    print(f"pod limits: {json.dumps(pod['limits'], sort_keys=True)}")
    print(f"pod requests: {json.dumps(pod['requests'], sort_keys=True)}")


def cmd_check(args) -> int:
    from .local_opa import LocalOPA, bundled_policies

    try:
        user_options = json.loads(args.body)
    except ValueError as e:
        print(f"jhpolicy check: --body is not JSON: {e}", file=sys.stderr)
        return EXIT_ERROR
    if args.opa_url:
        report = asyncio.run(_run_check(args, user_options, args.opa_url))
    else:
        policies = args.policies or bundled_policies()
        try:
            with LocalOPA([policies]) as opa:
                report = asyncio.run(_run_check(args, user_options, opa.url))
        except (OPANotFound, RuntimeError) as e:
            print(f"jhpolicy check: cannot start a local OPA: {e}", file=sys.stderr)
            return EXIT_ERROR
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True, default=str))
    else:
        _print_report(report)
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


def cmd_configmap(args) -> int:
    from .configmap import manifest, to_yaml
    from .local_opa import bundled_policies

    try:
        document = manifest(Path(args.policies) if args.policies else bundled_policies(), args.name, args.namespace)
    except ValueError as e:
        print(f"jhpolicy configmap: {e}", file=sys.stderr)
        return EXIT_ERROR
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
    check.add_argument("--policies", help="policy folder for the local OPA (default: the bundled policies)")
    check.add_argument("--config", help="a jupyterhub_config.py to load (profile_list, PolicyKubeSpawner options)")
    check.add_argument("--json", action="store_true", help="print the result as JSON")
    check.set_defaults(func=cmd_check)

    install = sub.add_parser("install-opa", help=f"find or install OPA {OPA_VERSION}; prints its path")
    install.add_argument("--tools-dir", help="where to put it (default: .tools/bin)")
    install.set_defaults(func=cmd_install_opa)
    configmap = sub.add_parser(
        "configmap",
        help="print the ConfigMap that carries the policies to the OPA sidecar",
        description="Print a ConfigMap manifest with the policy folder's .rego and data files "
        "(tests left out), e.g.: jhpolicy configmap | kubectl apply -n jhub -f -",
    )
    configmap.add_argument("--policies", help="policy folder (default: the bundled policies)")
    configmap.add_argument("--name", default="jhpolicy-policies", help="ConfigMap name (default: jhpolicy-policies)")
    configmap.add_argument("--namespace", help="namespace to put in the manifest")
    configmap.set_defaults(func=cmd_configmap)

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
