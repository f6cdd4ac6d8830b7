"""What every command shares: exit codes, one-line errors, the policy folder
and its lint gate, and the OPA a dry run asks (`policy_opa`)."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path

from ..tooling import close_names, dry_run
from ..tooling.dry_run import DryRunError
from ..tooling.opa_binary import OPANotFound, ensure_opa, find_opa

EXIT_ALLOWED, EXIT_DENIED, EXIT_ERROR = 0, 1, 2


def error(command: str, message: str) -> int:
    print(f"jhpolicy {command}: {message}", file=sys.stderr)
    return EXIT_ERROR


def one_line(error: Exception, limit: int = 400) -> str:
    """An error's text on one line (OPA's own output included, shortened)."""
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def renamed(parser, flag: str, instead: str) -> None:
    """A flag that became a command: hidden from the help, and an error that
    names the command when someone (or an old script) still uses it."""
    import argparse

    class Renamed(argparse.Action):
        def __call__(self, parser, namespace, values, option_string=None):
            parser.error(f"{flag} is now a command of its own: {instead}")

    parser.add_argument(flag, nargs="?", action=Renamed, help=argparse.SUPPRESS)


def decision_log_arguments(parser) -> None:
    """LOG and --decision-id: which decision of OPA's decision log a command reads."""
    parser.add_argument("log", metavar="LOG", help="OPA's decision log (JSON lines)")
    parser.add_argument("--decision-id", help="which decision of the log (default: the only one)")


def policies_option(parser, help: str = "policy folder (default: the bundled policies)") -> None:
    parser.add_argument("--policies", help=help)


def manifest_options(parser, name: str, name_help: str | None = None) -> None:
    """--name and --namespace of a command that prints a ConfigMap."""
    parser.add_argument("--name", default=None if name_help else name, help=name_help or f"ConfigMap name (default: {name})")
    parser.add_argument("--namespace", help="namespace to put in the manifest")


def suite_error_text(e: Exception) -> str:
    """A suite's error as a command prints it: an unknown key with the known
    keys one typo away, asked of the close_keys of jhpolicy's own policy
    library (the suite's format is jhpolicy's, whatever policy it tests).
    Only with an OPA already there: a suggestion is not worth building one
    (ensure_opa), nor the lines that would print."""
    from ..tooling import cases
    from ..tooling.local_opa import bundled_policies

    if not isinstance(e, cases.UnknownKey):
        return str(e)
    try:
        opa = find_opa()
    except OPANotFound:
        opa = None
    if opa is None:
        return str(e)
    return e.with_close(close_names.from_folder(opa, bundled_policies(), [(e.key, e.known)])[0])


def policy_folder(args) -> Path:
    from ..tooling.local_opa import bundled_policies

    if not args.policies:
        return bundled_policies()
    folder = Path(args.policies)
    if not folder.is_dir():
        raise DryRunError(f"--policies {folder}: no such folder")
    return folder


def lint_problems(command: str, folder: Path, warn: bool = False, profile_slugs: list[str] | None = None,
                  fail_on_warnings: bool = False, hub_warnings=None) -> int | None:
    """Print the folder's problems (jhpolicy.tooling.lint) as `command: ...`, and
    with `warn` its warnings when it has no problems; the exit code if any
    problem was found (or, with fail_on_warnings, a warning) or it could not
    be checked, else None. profile_slugs: the hub's, to check the
    allowances' profile patterns against; hub_warnings: called when the
    folder has no problems, more warnings (the hub's offers judged under
    it, jhpolicy.tooling.hub_offers)."""
    from ..tooling.lint import LintError, check

    try:
        found, warned = check(str(ensure_opa()), folder, profile_slugs=profile_slugs)
        if warn and not found and hub_warnings is not None:
            warned = [*warned, *hub_warnings()]
    except (LintError, OPANotFound, DryRunError) as e:
        print(f"jhpolicy {command}: {e}", file=sys.stderr)
        return EXIT_ERROR
    for problem in found:
        print(f"jhpolicy {command}: {folder}: {problem}", file=sys.stderr)
        annotate("error", command, f"{folder}: {problem}")
    if found:
        return EXIT_DENIED
    for warning in warned if warn else ():
        print(f"jhpolicy {command}: {folder}: warning: {warning}", file=sys.stderr)
        annotate("warning", command, f"{folder}: {warning}")
    return EXIT_DENIED if warn and warned and fail_on_warnings else None


def annotate(level: str, command: str, message: str) -> None:
    """In a GitHub Actions job, also a workflow command on stdout, so the
    problem shows on the pull request's checks, not only deep in the log
    (a warning leaves the step green, where nobody reads it)."""
    if os.environ.get("GITHUB_ACTIONS") != "true":
        return
    escaped = message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    print(f"::{level} title=jhpolicy {command}::{escaped}")


class PolicyOPA:
    """The OPA a dry run asks, as `policy_opa` yields it."""

    def __init__(self, url: str, local: bool):
        self.url = url
        self.local = local

    def configured_groups(self) -> set[str] | None:
        """The groups the policy's data names; not asked of an admin's own
        OPA (--opa-url), where it would be an entry in their decision log."""
        return dry_run.configured_groups(dry_run.policy_data(self.url)) if self.local else None

    def data(self):
        return dry_run.policy_data(self.url)

    def unmatched_group_notes(self, spawns: list[tuple[list[str], dict]]) -> dict[str, str]:
        """For the groups of some spawns (each its groups and their
        properties), a note on each group no entry of the data names (a typo
        grants nothing), with the configured names one typo away; by group,
        sorted."""
        configured = self.configured_groups()
        unmatched = sorted({g for groups, properties in spawns
                            for g in dry_run.unmatched_groups(groups, configured, properties)})
        if not unmatched:
            return {}
        close = close_names.from_server(self.url, [(g, configured) for g in unmatched])
        return {g: dry_run.unmatched_group_note(g, names) for g, names in zip(unmatched, close)}


@contextmanager
def policy_opa(policies: Path, opa_url: str | None = None):
    """The admin's OPA at `opa_url`, or a local OPA on `policies` for the
    block's duration; not starting is a DryRunError naming the folder."""
    if opa_url:
        yield PolicyOPA(opa_url, local=False)
        return
    from ..tooling.local_opa import LocalOPA

    try:
        opa = LocalOPA([policies]).start()
    except (OPANotFound, RuntimeError) as e:
        raise DryRunError(f"cannot start a local OPA on {policies}: {one_line(e)}") from None
    try:
        yield PolicyOPA(opa.url, local=True)
    finally:
        opa.stop()


def usage_document(path: Path):
    """A --usage file: JSON, or YAML (which JSON is a part of)."""
    import yaml

    try:
        return yaml.safe_load(path.read_text())
    except OSError as e:
        raise ValueError(e.strerror or str(e)) from None
    except yaml.YAMLError as e:
        raise ValueError(f"neither JSON nor YAML: {' '.join(str(e).split())[:200]}") from None


def unwritable(path: Path) -> str | None:
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
