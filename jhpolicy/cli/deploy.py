"""What a Zero to JupyterHub install takes besides the policy: `values`
(jhpolicy's values stacks joined with the admin's), `wheels-configmap`
(the no-image-build route) and `opa-config` (a bundle server)."""

from __future__ import annotations

import base64
import sys
from pathlib import Path

from ..tooling.values import STACKS
from .common import error, manifest_options


def register(sub) -> None:
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
    manifest_options(wheels, "jhpolicy-wheels")
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
    manifest_options(opa_config, "jhpolicy-opa-config")
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


def cmd_values(args) -> int:
    import yaml

    from ..tooling.values import PLACEHOLDER_IMAGE, ValuesError, combine, placeholder_image, stack_files

    origin: dict = {}
    try:
        # The stack first, the admin's files last: what they set wins.
        files = (stack_files(args.stack) if args.stack else []) + [Path(f) for f in args.files]
        if not files:
            return error("values", "give values files (-f) or a --stack")
        texts = []
        for f in files:
            try:
                texts.append(f.read_text())
            except OSError as e:
                raise ValuesError(f"{f}: {e.strerror or e}") from None
        combined = combine(texts, [str(f) for f in files], origin)
    except (ValuesError, yaml.YAMLError) as e:
        return error("values", " ".join(str(e).split()))
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


def cmd_wheels_configmap(args) -> int:
    import yaml

    from ..tooling.configmap import MAX_CONFIGMAP_BYTES, to_yaml, wheels_manifest

    try:
        document, values = wheels_manifest([Path(w) for w in args.wheels], args.name, args.namespace)
        Path(args.values_out).write_text(
            "# Made by `jhpolicy wheels-configmap`: add it after the stack, e.g.\n"
            f"#   jhpolicy values --stack no-image-build -f config.yaml -f {args.values_out}\n"
            + yaml.safe_dump(values, sort_keys=False, width=1000))
    except (OSError, ValueError) as e:
        return error("wheels-configmap", str(e))
    sys.stdout.write(to_yaml(document))
    size = sum(len(base64.b64decode(v)) for v in document["binaryData"].values())
    print(f"jhpolicy wheels-configmap: {len(document['binaryData'])} wheels, {size:,} bytes of the {MAX_CONFIGMAP_BYTES:,} "
          f"a ConfigMap holds ({size / MAX_CONFIGMAP_BYTES:.0%}); the hub imports them by sha256 as {args.values_out} says. "
          "Apply it with `kubectl apply --server-side` (client-side apply copies it into an annotation of at most "
          "262,144 bytes)", file=sys.stderr)
    return 0


def cmd_opa_config(args) -> int:
    import yaml

    from ..tooling.bundle import sidecar_config
    from ..tooling.configmap import configmap, to_yaml

    try:
        public_key = Path(args.public_key).read_text()
    except OSError as e:
        return error("opa-config", str(e))
    config = sidecar_config(args.server_url, keyid=args.keyid, public_key=public_key, hub=args.hub,
                            resource=args.resource, algorithm=args.algorithm)
    document = configmap(args.name, {"opa-config.yaml": yaml.safe_dump(config, sort_keys=False)}, args.namespace)
    sys.stdout.write(to_yaml(document))
    return 0
