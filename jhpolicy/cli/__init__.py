"""The `jhpolicy` command: one module per command group, each registering
its subcommands on the parser.

- check.py: `check`, what the spawner would do with a request (a dry run
  through PolicyKubeSpawner's own code), and `replay`, a logged decision
  evaluated again;
- suite.py: the admin's cases: `test` runs them, `init-cases` writes a
  starter suite, `add-case` adds one from a logged decision;
- policy.py: the policy folder: `init`, `install-opa`, `lint`, `configmap`,
  `bundle`;
- deploy.py: the chart's side: `values`, `wheels-configmap`, `opa-config`;
- common.py: exit codes, one-line errors, the lint gate, and the OPA a dry
  run asks (a local one on the policy folder, or --opa-url).
"""

from __future__ import annotations

import argparse
import os
import sys

from .. import __version__
from ..tooling.dry_run import DryRunError
from ..tooling.opa_binary import OPA_VERSION
from . import check, deploy, policy, suite
from .common import EXIT_ALLOWED, EXIT_DENIED, EXIT_ERROR, error, one_line

__all__ = ["EXIT_ALLOWED", "EXIT_DENIED", "EXIT_ERROR", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jhpolicy", description="OPA spawn policies for JupyterHub's KubeSpawner")
    parser.add_argument("--version", action="version", version=f"jhpolicy {__version__} (OPA {OPA_VERSION})")
    sub = parser.add_subparsers(dest="command", required=True)
    for group in (check, suite, policy, deploy):
        group.register(sub)
    return parser


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
    if args.command in ("check", "test", "init-cases"):
        from ..tooling.offline import use_offline_kube_config

        use_offline_kube_config()
    try:
        return args.func(args)
    except DryRunError as e:  # what the admin gave (a folder, a file) is not there or not usable
        return error(args.command, str(e))
    except ModuleNotFoundError as e:  # installed without the CLI's extra
        return error(args.command, f"needs {e.name}: pip install 'jhpolicy[cli]'")
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `jhpolicy check ... | head`: the reader has gone, nothing more to say
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_ERROR
    except Exception as e:  # nothing the admin did should show them a traceback: one line, exit 2
        if os.environ.get("JHPOLICY_DEBUG"):
            raise
        print(f"jhpolicy {args.command}: {type(e).__name__}: {one_line(e)} "
              "(a bug of jhpolicy's: please report it; JHPOLICY_DEBUG=1 shows the traceback)", file=sys.stderr)
        return EXIT_ERROR
