"""jhpolicy's settings: the traits an admin sets on PolicyKubeSpawner.

They live in a class of their own so that the spawner reads as its
pipeline. PolicyKubeSpawner inherits them: `c.PolicyKubeSpawner.opa_url`
configures them as before (traitlets loads a class's config section for
every trait it has, inherited ones included).
"""

from __future__ import annotations

import os
import re

from traitlets import Bool, Dict, Enum, Float, Integer, TraitError, Unicode, default, validate
from traitlets import Set as SetTrait
from traitlets.config import Application, Configurable

from ..core import lifetime
from ..core.quantities import PARSERS
from ..core.request import MAX_REQUEST_KEYS
from . import opa_http

# The ceiling's default: the keys jhpolicy knows how to parse.
DEFAULT_ALLOWED_KEYS = frozenset(PARSERS)


class PolicySettings(Configurable):
    """The policy's traits; see PolicyKubeSpawner."""

    opa_url = Unicode(
        "http://127.0.0.1:8181",
        config=True,
        help="""
        Base URL of the OPA server that decides spawn requests, usually a
        sidecar in the hub pod listening on localhost.
        """,
    )

    opa_decision_path = Unicode(
        "jupyterhub/spawn/decision",
        config=True,
        help="""
        Path of the decision document under OPA's /v1/data/, in slash or dot
        form. The default is the rule `decision` in package `jupyterhub.spawn`.
        """,
    )

    opa_timeout = Float(
        5.0,
        config=True,
        help="""
        Seconds the whole policy check may take, retries included, from when
        it is handed to jhpolicy's own threads, so that a hub busy with a
        burst of spawns does not count against OPA. Keep it under JupyterHub's
        `slow_spawn_timeout` (10 s by default) so a caller gets the 503 in the
        response rather than a 202 and a failure seen only in the progress
        stream. With `policy_quotas`, time spent waiting for earlier spawns'
        decisions counts too.
        """,
    )

    @validate("opa_timeout")
    def _check_opa_timeout(self, proposal):
        value = proposal["value"]
        if not 0 < value < 10:
            raise TraitError(
                f"opa_timeout={value}: must be above 0 and below JupyterHub's slow_spawn_timeout (10 s by default)"
            )
        return value

    opa_profiles_path = Unicode(
        "jupyterhub/spawn/visible_profiles",
        config=True,
        help="""
        Path of the rule that lists the profiles the spawn page offers a user.
        It gets the decision input with `profiles`, the slugs of
        `profile_list`, and answers the list of slugs to show. Asked when the
        allowance view (opa_allowance_path) did not judge every profile, or
        with policy_allowance_panel off.
        """,
    )

    opa_allowance_path = Unicode(
        "jupyterhub/spawn/allowance_view",
        config=True,
        help="""
        Path of the rule that describes what a user may launch and how much
        of each quota that applies to them is in use (the allowance view,
        served by jhpolicy's REST endpoint `GET /hub/api/jhpolicy/allowance`).
        It gets the decision input with an empty request, and in
        `candidates` the spawns the spawn page offers (each profile, each
        other choice of its options), which it judges in the same answer.
        The shipped rule judges them with the shipped decision, in its
        package: with a decision of your own at another
        `opa_decision_path`, point this at a view rule beside it.
        """,
    )

    policy_allowance_panel = Bool(
        True,
        config=True,
        help="""
        Show, above the spawn page's profile form, what the user may launch
        and how much of each quota that applies to them is in use (the
        policy's allowance view, which also judges each profile and choice
        the form offers, in place of the profile list's query); the form
        then leaves out the profiles and choices whose spawn the policy
        would refuse (a full quota, an image they may not run), listed
        disabled with the reason. False: the form alone, with only the
        profiles the profile list (`opa_profiles_path`) lets them select.
        """,
    )

    policy_view_cache_seconds = Float(
        10.0,
        config=True,
        help="""
        Seconds the hub keeps an allowance view (the spawn page's panel and
        judgements, and the allowance endpoint's answer) to show again for
        the same input: the same user, groups and group properties, the
        same candidate pods, and the same usage, so a server started or
        stopped asks OPA afresh. A change to the policy or its data in OPA
        shows on the page after at most this long. Decisions are never made
        from a kept view: every spawn asks OPA. 0 asks OPA for every page.
        """,
    )

    @validate("policy_view_cache_seconds")
    def _check_policy_view_cache_seconds(self, proposal):
        value = proposal["value"]
        if not 0 <= value <= 300:
            raise TraitError(f"policy_view_cache_seconds={value}: must be from 0 (keep none) to 300")
        return value

    opa_shadow_decision_path = Unicode(
        "",
        config=True,
        help="""
        A candidate decision path (e.g. a stricter policy in the same bundle)
        evaluated beside the live one on every spawn and never applied. The
        spawn does not wait for it; each comparison is counted on /hub/metrics
        (jhpolicy_shadow_decisions_total) and each disagreement logged with both
        decision ids. Empty (the default): no shadow.
        """,
    )

    opa_shadow_url = Unicode(
        "",
        config=True,
        help="OPA server for `opa_shadow_decision_path`; empty (the default): `opa_url`.",
    )

    opa_retries = Integer(
        1,
        min=0,
        config=True,
        help="""
        How many times to retry after a failed connection to OPA (e.g. while
        the sidecar restarts), within `opa_timeout`. Answers are never retried.
        """,
    )

    opa_token = Unicode(
        config=True,
        help="""
        Bearer token sent to OPA when OPA runs with `--authentication=token`.
        Defaults to the environment variable JHPOLICY_OPA_TOKEN. Surrounding
        whitespace (the trailing newline `kubectl create secret --from-file`
        keeps) is stripped; control characters or non-ASCII are a
        configuration error (TraitError): for JHPOLICY_OPA_TOKEN at hub start,
        otherwise when a spawner is configured. Never logged.
        """,
    )

    @default("opa_token")
    def _opa_token_default(self):
        return self._check_opa_token({"value": os.environ.get("JHPOLICY_OPA_TOKEN", "")})

    @validate("opa_token")
    def _check_opa_token(self, proposal):
        return checked_token(proposal["value"])

    opa_max_connections = Integer(
        20,
        min=1,
        config=True,
        help="Size of the connection pool to OPA, shared by all spawners of the hub.",
    )

    opa_max_response_bytes = Integer(
        1024 * 1024,
        min=1024,
        config=True,
        help="Largest OPA answer accepted; a larger one is treated as a broken policy.",
    )

    policy_failure_mode = Enum(
        ["deny", "defaults"],
        "deny",
        config=True,
        help="""
        What to do when OPA is unreachable or its answer breaks the decision
        contract. "deny": refuse the spawn with 503. "defaults": start the
        server with the admin's configured defaults, default profile included
        (exactly what an empty request gets), ignoring the requested overrides
        and profile. Unchecked values are never applied, and a malformed
        request is a 400 in both modes, never a fallback. With `policy_quotas`,
        a server started with the defaults is booked (charged to no group) but
        not checked against any quota.
        """,
    )

    policy_allowed_keys = SetTrait(
        Unicode(),
        default_value=set(DEFAULT_ALLOWED_KEYS),
        config=True,
        help="""
        The ceiling: spawner attributes a policy decision may set. A decision
        that sets any other key is a policy bug and fails closed (503, error
        logged, nothing applied). The default is the keys jhpolicy parses:
        image, cpu_limit, cpu_guarantee, mem_limit, mem_guarantee,
        extra_resource_limits and extra_resource_guarantees. Widen it only
        for keys you mean users to choose under policy, e.g. `node_selector`.
        """,
    )

    policy_max_lifetime = Dict(
        {},
        config=True,
        help="""
        The ceiling on decided server lifetimes: the longest `idle` timeout
        and `max_age` a decision may give, as durations (seconds, or "90m",
        "8h", "1d"), e.g. {"max_age": "7d"}. A decision above it is a policy
        bug and fails closed (503, error logged), like a key outside
        policy_allowed_keys. Empty (the default): no ceiling. See
        docs/how-to/server-lifetimes.md.
        """,
    )

    @validate("policy_max_lifetime")
    def _check_policy_max_lifetime(self, proposal):
        value = proposal["value"]
        unknown = set(value) - set(lifetime.KINDS)
        if unknown:
            raise TraitError(f"policy_max_lifetime: {', '.join(sorted(map(str, unknown)))} is not idle or max_age")
        try:
            return {kind: lifetime.parse_duration(v) for kind, v in value.items()}
        except ValueError as e:
            raise TraitError(f"policy_max_lifetime: {e}") from None

    policy_max_request_bytes = Integer(
        64 * 1024,
        min=1024,
        config=True,
        help="""
        Largest user_options (as JSON) put before the policy; a larger
        request is refused with 400 before OPA is asked, so a hostile body
        cannot make every decision slow or memory-hungry.
        """,
    )

    policy_max_request_keys = Integer(
        MAX_REQUEST_KEYS,
        min=1,
        config=True,
        help="""
        Most keys and list items a request may have, counted at every depth
        (top level, kubespawner_override, extra_resource_limits, ...); more
        is refused with 400 before OPA is asked, so no request can make the
        policy's answer or its evaluation arbitrarily large. Strings are at
        most 1,024 characters and nesting at most 8 levels, also a 400.
        """,
    )

    policy_send_auth_state = Bool(
        False,
        config=True,
        help="""
        Send the user's auth_state to OPA as input.user.auth_state. Off by
        default: auth_state often holds access tokens. If you turn it on, the
        shipped policies mask it in OPA's decision logs (system.log).
        """,
    )

    policy_quotas = Bool(
        True,
        config=True,
        help="""
        Keep the books of what the hub's active servers hold (their decided
        CPU, memory and extended resources, and the group each is charged
        to) and send the totals to the policy as input.usage, so it can hold
        quotas. Decisions are then made one at a time, each booked before
        the next is made, so concurrent spawns never share the same headroom.
        Turn off only if your policy has no quotas: decisions then run
        concurrently and input.usage is absent.
        """,
    )

    policy_hub_name = Unicode(
        config=True,
        help="""
        The name of this hub's books (see policy_quotas): each pod it starts
        gets the label `jhpolicy/hub: <name>`, and pods another hub labelled
        are never counted here, so quotas are per hub, each hub deciding
        under its own lock. Give every hub that shares a namespace a name of
        its own (a label value: at most 63 letters, digits, `-`, `_`, `.`).
        Default: the Helm release name Zero to JupyterHub puts in
        `common_labels["release"]`, else "jupyterhub". Pods without the
        label (started outside jhpolicy) count for every hub that sees them.
        """,
    )

    @default("policy_hub_name")
    def _policy_hub_name_default(self):
        release = (getattr(self, "common_labels", None) or {}).get("release")
        return release if isinstance(release, str) and release else "jupyterhub"

    @validate("policy_hub_name")
    def _check_policy_hub_name(self, proposal):
        value = proposal["value"]
        if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?", value):
            raise TraitError(f"policy_hub_name={value!r}: not a Kubernetes label value (at most 63 letters, digits, -, _, .)")
        return value

    policy_log_decisions = Bool(
        True,
        config=True,
        help="Log one line per decision (user, requester, server, decision_id, outcome, applied values).",
    )

    def opa(self, url: str = "") -> opa_http.OPA:
        """The OPA server the traits name (`url` in place of opa_url: the shadow's)."""
        limits = opa_http.Limits(self.opa_timeout, self.opa_retries, self.opa_max_response_bytes)
        return opa_http.OPA(url or self.opa_url, self.opa_token or None, self.opa_max_connections, limits)


def checked_token(value: str) -> str:
    """The token with surrounding whitespace stripped: `kubectl create secret
    --from-file` keeps the file's trailing newline, and a header value with
    it would fail every request. Control characters are a configuration error."""
    token = value.strip()
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in token):
        raise TraitError("opa_token contains control characters; it must be a single line with no line breaks")
    if not token.isascii():
        raise TraitError("opa_token must be ASCII (it is sent as an HTTP header)")
    return token


def check_token_at_hub_start() -> None:
    """JupyterHub imports the spawner class while it loads its configuration,
    before any spawner exists: check the token then, so a bad one stops the
    hub with a clear error instead of failing every spawn later."""
    checked_token(os.environ.get("JHPOLICY_OPA_TOKEN", ""))
    if Application.initialized():
        configured = Application.instance().config.get("PolicyKubeSpawner", {}).get("opa_token")
        if isinstance(configured, str):
            checked_token(configured)


check_token_at_hub_start()
