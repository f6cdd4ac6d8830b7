"""One spawn request through a real PolicyKubeSpawner, outside a hub.

`jhpolicy check` and `jhpolicy test` both use it, so what they report is
what the hub's spawner does: the same input (user, groups and their
properties, requester, request body, usage), the same OPA query, the same
contract checks and the same pod manifest. Nothing talks to a cluster.

Every mistake an admin can make in what they give it (a config that is not
Python, a body that is not an object, a malformed usage) is a
:class:`DryRunError` with one line saying what to fix.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sysconfig
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from jupyterhub.utils import maybe_future
from tornado import web
from traitlets import TraitError
from traitlets.config import Config, PyFileConfigLoader

from ..hub.errors import message_of
from . import close_names
from .shipped import PACKAGE


class DryRunError(Exception):
    """What the admin gave cannot be run: the message says what to fix."""


@dataclass
class Who:
    """Who asks: the user whose server starts, and whoever made the request."""

    user: str
    groups: list[str] = field(default_factory=list)
    # Group name -> that group's JupyterHub properties (e.g. a jhpolicy_quota set on the admin page).
    group_properties: dict = field(default_factory=dict)
    admin: bool = False
    server: str = ""
    # "user:NAME", "admin:NAME" or "service:NAME"; None: the user themself.
    requester: str | None = None


def load_config(path: str | None) -> Config:
    """A jupyterhub_config.py, as the hub loads it."""
    if not path:
        return Config()
    config_path = Path(path).resolve()
    if not config_path.is_file():
        raise DryRunError(f"{path}: no such file")
    text = config_path.read_text(errors="replace")
    if config_path.suffix in (".yaml", ".yml") or text.lstrip().startswith(("hub:", "singleuser:", "proxy:")):
        raise DryRunError(
            f"{path}: this is a YAML (Helm values) file; give it with --values, and a jupyterhub_config.py with --config"
        )
    loader = PyFileConfigLoader(config_path.name, str(config_path.parent))
    try:
        return loader.load_config()
    except SyntaxError as e:
        raise DryRunError(f"{path}:{e.lineno}: not Python ({e.msg}); give a jupyterhub_config.py") from None
    except Exception as e:  # the admin's own code raised: name it, never a traceback
        raise DryRunError(f"{path}: loading it raised {type(e).__name__}: {e}") from None


def hub_config(config_py: str | None, values: list[str] | None = None, notes: list[str] | None = None) -> Config:
    """The hub's spawner config: the z2jh chart's, from Helm values files
    (jhpolicy.tooling.chart_config), then a jupyterhub_config.py on top; in `notes`
    what of it is not run here."""
    config = Config()
    if values:
        from .chart_config import ChartConfigError, load

        try:
            config = load([Path(v) for v in values], notes)
        except ChartConfigError as e:
            raise DryRunError(f"--values: {e}") from None
    if config_py:
        config.merge(load_config(config_py))
    return config


def profile_slugs(config: Config) -> list[str] | None:
    """The slugs of the hub's profile_list as KubeSpawner initialises it
    (a slug made from the display name where none is given); None when the
    list is a function, which may give each user another."""
    from ..core.request import ProfileListError
    from ..hub.upstream import profile_list
    from .offline import OfflineUser, make_spawner

    async def slugs() -> list[str] | None:
        try:
            spawner = make_spawner(config, OfflineUser(name="lint", groups=[], admin=False), {})
        except TraitError as e:
            raise DryRunError(f"the hub's config is not one KubeSpawner accepts: {' '.join(str(e).split())}") from None
        if callable(spawner.profile_list):
            return None
        try:
            return [profile["slug"] for profile in await profile_list(spawner)]
        except ProfileListError as e:
            raise DryRunError(f"profile_list: {e}") from None

    return asyncio.run(slugs())


def parse_usage(doc) -> dict:
    """input.usage from its JSON document; CPU and memory may be written as
    in jupyterhub_config.py ("4G", 2.5), extended resources and servers as
    whole numbers."""
    from ..core.quantities import PARSERS

    if not isinstance(doc, dict) or set(doc) - {"user", "user_by_group", "groups", "hub"}:
        raise DryRunError('expected an object with any of "user", "user_by_group", "groups", "hub"')

    def whole(n) -> bool:
        return isinstance(n, int) and not isinstance(n, bool) and n >= 0

    def totals(where: str, value) -> dict:
        if not isinstance(value, dict):
            raise DryRunError(f"{where} is not an object")
        parsed = {}
        for key, amount in value.items():
            if key == "extra_resources" and isinstance(amount, dict) and all(whole(n) for n in amount.values()):
                parsed[key] = amount
            elif key == "servers" and whole(amount):
                parsed[key] = amount
            elif key in PARSERS and key.startswith(("cpu_", "mem_")):
                try:
                    parsed[key] = 0 if amount == 0 else PARSERS[key](key, amount)
                except ValueError as e:
                    raise DryRunError(f"{where}.{e}") from None
            else:
                raise DryRunError(f"{where}.{key}: not a usage amount: {amount!r:.50}")
        return parsed

    usage = {}
    for scope in ("user", "hub"):
        if scope in doc:
            usage[scope] = totals(scope, doc[scope])
    for scope in ("user_by_group", "groups"):
        if scope in doc:
            if not isinstance(doc[scope], dict):
                raise DryRunError(f"{scope} is not an object of group name to totals")
            usage[scope] = {g: totals(f"{scope}.{g}", t) for g, t in doc[scope].items()}
    return usage


def requester_of(who: Who):
    from .offline import OfflineRequester

    if who.requester is None:
        return OfflineRequester(name=who.user, kind="user", admin=who.admin)
    kind, _, name = who.requester.partition(":")
    if kind not in ("user", "admin", "service") or not name:
        raise DryRunError(f'requester {who.requester!r}: write "user:NAME", "admin:NAME" or "service:NAME"')
    return OfflineRequester(name=name, kind="service" if kind == "service" else "user", admin=kind == "admin")


class _Reasons(logging.Handler):
    """The spawner's warnings and errors (a 503's reason, a misconfiguration):
    the admin running the tool sees them, the end user never does."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


async def run(config: Config, who: Who, body, opa_url: str, usage: dict | None = None) -> dict:
    """The report of one spawn: status (200, or the HTTP error the hub would
    answer), outcome, messages, what was applied, the charge, the pod's
    values and manifest summary, the OPA input, and `reasons` for the admin."""
    from ..hub.opa_http import close_clients
    from .offline import OfflineGroup, OfflineHub, OfflineUser, apply_group_overrides, make_spawner, pod_summary, pod_to_create

    if not isinstance(body, dict):
        raise DryRunError(f"the request body must be a JSON object (as the REST API takes), not {json.dumps(body)[:50]}")
    config = Config(config)
    config.PolicyKubeSpawner.opa_url = opa_url
    groups = [OfflineGroup(g, dict(who.group_properties.get(g) or {})) for g in who.groups]
    user = OfflineUser(name=who.user, groups=groups, admin=who.admin)
    try:
        spawner = make_spawner(config, user, body, who.server, requester_of(who), hub=OfflineHub(), usage=usage)
    except TraitError as e:  # the hub could not build its spawner from this config either
        raise DryRunError(f"the hub's config is not one KubeSpawner accepts: {' '.join(str(e).split())}") from None
    reasons = _Reasons()
    spawner.log.addHandler(reasons)
    report: dict = {"user": who.user, "groups": list(who.groups), "server": who.server, "notes": []}
    if who.server and not config.get("JupyterHub", {}).get("allow_named_servers", False):
        # JupyterHub's default, and Zero to JupyterHub's (hub.allowNamedServers: false).
        report["notes"].append(
            f"this config does not enable named servers (JupyterHub.allow_named_servers; z2jh: hub.allowNamedServers), "
            f"so the hub answers 400 'Named servers are not enabled' for server {who.server!r} before any policy runs"
        )
    try:
        await apply_group_overrides(spawner)
        if spawner.pre_spawn_hook is not None:
            # As User.spawn runs it, after group_overrides and before start().
            report["notes"].append(f"pre_spawn_hook ran as the hub runs it (for user {who.user}, here outside a hub)")
            try:
                await maybe_future(spawner.run_pre_spawn_hook())
            except Exception as e:  # noqa: BLE001  (the admin's code: the hub would fail the spawn with a 500)
                report.update(status=500, message=f"pre_spawn_hook raised {type(e).__name__}: {e}", outcome="error")
                return report
        pod = await pod_to_create(spawner)
    except web.HTTPError as e:
        outcome = spawner.policy_outcome
        report.update(status=e.status_code, message=message_of(e),
                      outcome="unavailable" if e.status_code == 503 else outcome)
        return report
    except Exception as e:
        if (raised := admin_code_error(e)) is None:
            raise  # jhpolicy's own: a bug, which the command says to report
        report.update(status=500, message=f"the hub's config raised {raised}", outcome="error")  # a bare 500 in the hub
        return report
    finally:
        spawner.log.removeHandler(reasons)
        report["input"] = spawner.policy_input
        report["reasons"] = reasons.lines
        await close_clients()
    report.update(
        status=200,
        outcome=spawner.policy_outcome,
        messages=spawner.policy_messages,
        applied=spawner.policy_applied,
        charge=spawner.policy_decision.charge if spawner.policy_decision else None,
        lifetime=spawner.policy_lifetime.limits_json() if spawner.policy_lifetime else None,
        values=spawner.policy_pod,
        pod=pod_summary(pod),
    )
    return report


def admin_code_error(error: Exception) -> str | None:
    """What the admin's own code (a profile_list function, a hook, an
    extraConfig snippet) raised, with where: "RuntimeError: ldap down (in
    profiles, jupyterhub_config.py:12)"; None when the error passed through
    no such code (the standard library, installed packages and jhpolicy's
    own are not the admin's), which makes it a bug of jhpolicy's."""
    installed = {Path(sysconfig.get_paths()[key]).resolve() for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    found = None
    for frame, line in traceback.walk_tb(error.__traceback__):
        file = frame.f_code.co_filename
        if file.startswith("<frozen "):
            continue
        path = Path(file).resolve() if not file.startswith("<") else None
        if path is None or not (path.is_relative_to(PACKAGE) or any(path.is_relative_to(p) for p in installed)):
            found = f"in {frame.f_code.co_name}, {file}:{line}"
    return f"{type(error).__name__}: {error} ({found})" if found else None


def policy_data(opa_url: str) -> dict | None:
    """data.jhpolicy as the OPA at `opa_url` has it; None if it is not an object."""
    import httpx

    try:
        doc = httpx.get(f"{opa_url}/v1/data/jhpolicy", timeout=10, trust_env=False).json().get("result")
    except (httpx.HTTPError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def configured_groups(data: dict | None) -> set[str] | None:
    """The group names the policy's data has entries for (allowances and
    quotas), or None when the data is not jhpolicy's."""
    if data is None:
        return None
    names = set(data["groups"]) if isinstance(data.get("groups"), dict) else set()
    quotas = data.get("quotas") if isinstance(data.get("quotas"), dict) else {}
    if isinstance(quotas.get("groups"), dict):
        names |= set(quotas["groups"])
    return names


def unmatched_group_note(group: str, close: list[str]) -> str:
    """What jhpolicy check and jhpolicy test say of a group no entry names."""
    hint = f"; {close_names.did_you_mean(close)}" if close else ""
    return (f"group {group!r} has no entry in the policy's data (groups or quotas.groups): it grants nothing "
            f"(group names are case-sensitive{hint})")


def unmatched_groups(groups: list[str], configured: set[str] | None, properties: dict) -> list[str]:
    """Groups that no data entry (nor a jhpolicy_* property) names: they
    grant nothing, which is worth saying (a typo, "Students" for "students")."""
    if configured is None:
        return []
    return [g for g in groups if g not in configured
            and not any(k.startswith("jhpolicy_") for k in (properties.get(g) or {}))]
