"""The admin's policy folder: `init` (a folder of their own), `install-opa`,
`lint` (the gate), and what ships it: `configmap` and `bundle`, both behind
the lint gate."""

from __future__ import annotations

import asyncio
import functools
import sys
from pathlib import Path

from ..tooling.opa_binary import OPA_VERSION, OPANotFound, ensure_opa
from .common import (
    EXIT_ERROR,
    error,
    lint_problems,
    manifest_options,
    one_line,
    policies_option,
    policy_folder,
    policy_opa,
)


def register(sub) -> None:
    init = sub.add_parser(
        "init",
        help="copy the shipped policies, cases and a CI workflow into a new folder, to edit as your own",
        description="Write DIR/policies/ (the shipped .rego files, their tests and data.json), DIR/cases.yaml "
        "with the hub config it runs with (cases_hub_config.py), DIR/.github/workflows/jhpolicy.yml, which "
        "runs opa fmt, opa check --strict, opa test, jhpolicy lint and jhpolicy test, with this jhpolicy's wheel "
        "(DIR/.github/jhpolicy/), and DIR/hub-image/Dockerfile, a hub image with that wheel. DIR must be new or "
        "empty.",
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
        "data.jhpolicy (every group, requester and quota, whoever it governs). Exit 0: fit to ship (warnings, if any, "
        "on stderr); 1: problems found (one per line on stderr), or warnings with --fail-on-warnings; 2: it could "
        "not be checked. configmap and bundle run it first.",
    )
    policies_option(lint)
    lint.add_argument("--config", help="the hub's jupyterhub_config.py: also check the allowances' profile patterns "
                      "against its profile_list, and judge the hub's default spawn and every profile and choice of its "
                      "spawn page for a member of each group (warnings: what no group's members may start)")
    lint.add_argument("--values", metavar="FILE", action="append",
                      help="a z2jh values file (repeat), as in jhpolicy check: also check the profile patterns and "
                      "judge the hub's offers, as with --config")
    lint.add_argument("--fail-on-warnings", action="store_true",
                      help="exit 1 on warnings too (a pattern that matches nothing, a profile the hub lacks), not only "
                      "on problems")
    lint.set_defaults(func=cmd_lint)

    configmap = sub.add_parser(
        "configmap",
        help="print the ConfigMap that carries the policies to the OPA sidecar",
        description="Print a ConfigMap manifest with the policy folder's .rego and data files "
        "(tests left out), e.g.: jhpolicy configmap | kubectl apply -n jhub -f -. Refused (exit 1) when "
        "jhpolicy lint finds problems in the folder.",
    )
    policies_option(configmap)
    configmap.add_argument("--opa-authz", action="store_true",
                           help="instead of policies: the OPA sidecar's authorization policy for token auth "
                                "(helm-values/opa-authz, --stack token-auth), named jhpolicy-opa-authz")
    manifest_options(configmap, "jhpolicy-policies",
                     "ConfigMap name (default: jhpolicy-policies, or jhpolicy-opa-authz with --opa-authz)")
    configmap.set_defaults(func=cmd_configmap)

    bundle = sub.add_parser(
        "bundle",
        help="build a signed OPA bundle of the policies and data, for a bundle server",
        description="Build the policy folder's .rego and data files (tests left out) into an OPA bundle "
        "with `opa build`, signed with --signing-key; the signature names --keyid. Prints the bundle's path. "
        "Refused (exit 1) when jhpolicy lint finds problems in the folder.",
    )
    policies_option(bundle)
    bundle.add_argument("-o", "--output", default="bundle.tar.gz", help="bundle file to write (default: bundle.tar.gz)")
    bundle.add_argument("--signing-key", required=True, help="PEM private key (RSA or ECDSA) to sign with")
    bundle.add_argument("--keyid", required=True, help="the key's name, as the sidecars' keys config has it")
    bundle.add_argument("--revision", required=True, help="revision to stamp (e.g. the git commit); decision logs carry it")
    bundle.add_argument("--signing-alg", default="RS256", help="signing algorithm (default: RS256)")
    bundle.set_defaults(func=cmd_bundle)


def cmd_init(args) -> int:
    from ..tooling.starter import StarterError, init

    folder = Path(args.folder)
    try:
        written = init(folder)
    except (StarterError, OSError) as e:
        return error("init", str(e))
    for path in written:
        print(folder / path)
    print(f"next: edit {folder}/policies/data.json and {folder}/cases.yaml, then: jhpolicy test {folder}/cases.yaml")
    return 0


def cmd_install_opa(args) -> int:
    try:
        print(ensure_opa(Path(args.tools_dir) if args.tools_dir else None))
    except OPANotFound as e:
        return error("install-opa", one_line(e))
    return 0


def cmd_lint(args) -> int:
    from ..tooling import dry_run

    folder = policy_folder(args)
    slugs = hub_warnings = None
    if args.config or args.values:
        config = dry_run.hub_config(args.config, args.values)
        slugs = dry_run.profile_slugs(config)
        if slugs is None:
            print("jhpolicy lint: note: profile_list is a function (it may differ per user): "
                  "the profile patterns are not checked against it", file=sys.stderr)
        hub_warnings = functools.partial(offer_warnings, config, folder)
    failed = lint_problems("lint", folder, warn=True, profile_slugs=slugs, fail_on_warnings=args.fail_on_warnings,
                           hub_warnings=hub_warnings)
    if failed is None:
        print(f"{folder}: OPA loads it and its data has no problems")
    return failed or 0


def offer_warnings(config, folder: Path) -> list[str]:
    """The hub's default spawn and spawn page judged under the folder's
    policy for a member of each group (jhpolicy.tooling.hub_offers), on a
    local OPA; its notes printed as lint's."""
    from ..tooling import dry_run, hub_offers

    with policy_opa(folder) as opa:
        data = dry_run.policy_data(opa.url) or {}
        found, notes = asyncio.run(hub_offers.judge_all(config, data, opa.url))
    for note in notes:
        print(f"jhpolicy lint: note: {note}", file=sys.stderr)
    return found


def cmd_configmap(args) -> int:
    from ..tooling.configmap import manifest, to_yaml
    from ..tooling.values import shipped_values

    if args.opa_authz and args.policies:
        return error("configmap", "give --opa-authz or --policies, not both")
    folder = shipped_values() / "opa-authz" if args.opa_authz else policy_folder(args)
    name = args.name or ("jhpolicy-opa-authz" if args.opa_authz else "jhpolicy-policies")
    failed = lint_problems("configmap", folder)
    if failed is not None:
        return failed
    try:
        document = manifest(folder, name, args.namespace)
    except ValueError as e:
        return error("configmap", str(e))
    sys.stdout.write(to_yaml(document))
    return 0


def cmd_bundle(args) -> int:
    from ..tooling.bundle import BundleError, build

    folder = policy_folder(args)
    failed = lint_problems("bundle", folder)
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
