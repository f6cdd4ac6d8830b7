"""PolicyKubeSpawner: KubeSpawner whose pods are decided by OPA.

The flow in :meth:`PolicyKubeSpawner.load_user_options`, which KubeSpawner
awaits first thing in ``_start``, before the pod manifest is built:

    user_options -> parse_request -> (KubeSpawner applies the profile)
    -> pod.prospective (the pod it would give, every layer) -> build_input
    -> OPA -> decision.validate -> pod.decided -> set on the spawner

and then :meth:`PolicyKubeSpawner.verify_pod` checks the built pod (again
after ``modify_pod_hook``) against the decided values.

Anything that goes wrong restores the spawner's configuration as it was
before the request, so a refused request changes nothing.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time

from jupyterhub.utils import maybe_future
from kubespawner import KubeSpawner
from traitlets import Bool, Dict, Enum, Float, Integer, TraitError, Unicode, default, validate
from traitlets import Set as SetTrait

from . import decision as decisions
from . import errors, failure_count, ledger, lifetime, metrics, opa_client, reconcile, shadow, upstream
from .opa_input import build_input
from .pod import InvalidPod, container_mismatches, decided, prospective, trait_value
from .quantities import PARSERS
from .request import MAX_KEYS, ProfileListError, RequestError, check_profile_list, parse_request, selected_profile
from .spawn_page import SpawnPage

# What JupyterHub's Spawner.get_env sets from each value.
LIMIT_ENV = {"MEM_LIMIT": "mem_limit", "MEM_GUARANTEE": "mem_guarantee", "CPU_LIMIT": "cpu_limit", "CPU_GUARANTEE": "cpu_guarantee"}

# The ceiling's default: the keys jhpolicy knows how to parse.
DEFAULT_ALLOWED_KEYS = frozenset(PARSERS)


class PolicyKubeSpawner(KubeSpawner):
    """A KubeSpawner that lets users ask for an image, CPU and memory, as an OPA policy allows."""

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
        Seconds the whole policy check may take, retries included, measured on
        jhpolicy's own threads so that a hub busy with a burst of spawns
        does not count against OPA. Keep it under JupyterHub's
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
        import os

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
        MAX_KEYS,
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
        release = (self.common_labels or {}).get("release")
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

    # The last decision, for the progress stream, `jhpolicy check` and tests.
    policy_messages: list[str] = []
    policy_applied: dict = {}
    policy_outcome: str = ""
    policy_decision: decisions.Decision | None = None
    # The input OPA was sent, and the pod's decided values (normalised, as in
    # input.pod), which get_pod_manifest checks the built pod against.
    policy_input: dict | None = None
    policy_pod: dict | None = None
    # The last spawn's shadow comparison (opa_shadow_decision_path), if any.
    policy_shadow: shadow.Comparison | None = None
    # How long the running server may live, as decided at its spawn (kept in
    # the state, where jhpolicy's culler arbiter reads it: jhpolicy.lifetime).
    policy_lifetime: lifetime.Lifetime | None = None

    async def load_user_options(self):
        started = time.perf_counter()
        self.policy_messages = []
        self.policy_applied = {}
        self.policy_decision = None
        self.policy_input = self.policy_pod = self.policy_shadow = self.policy_lifetime = None
        # Set when this spawn is refused, fails or is cancelled: its decision,
        # if still in flight on jhpolicy's threads, must not book anything.
        self._abandoned = threading.Event()
        snapshot = {}
        outcome = "error"
        if errors.SpawnException is None:  # JupyterHub 5 counts refusals as failures
            failure_count.exempt_refusals(self)
        try:
            self._check_config()
            profile_list = await self._initialised_profile_list()
            request = parse_request(
                self.user_options, profile_list, self.policy_max_request_bytes, self.policy_max_request_keys
            )
            profile = selected_profile(request.profile, profile_list)
            snapshot = self._snapshot(self._changeable_keys(profile))
            self._load_profile_for(request.profile, profile_list, self.user_options)
            pod = prospective(self, request, profile, self.policy_allowed_keys)
            input_doc = self.policy_input = build_input(self, request, self._requester(), pod)
            if self.policy_send_auth_state:
                input_doc["user"]["auth_state"] = await self.user.get_auth_state()
            decision, decision_id, final = await self._decide(input_doc, pod)
            self.policy_decision = decision
            if not decision.allow:
                outcome = "misconfigured" if decision.reason == "misconfigured" else "denied"
                self._log_decision(input_doc, decision_id, decision, {})
                self._start_shadow(input_doc, pod, decision, decision_id)
                if outcome == "misconfigured":  # the admin's data: worth an error, not just a decision line
                    self.log.error("jhpolicy: refusing spawn of %s: %s", self._log_name, "; ".join(decision.messages))
                raise errors.denied(decision.messages, reason=decision.reason or "denied", help=decision.help)
            self._start_shadow(input_doc, pod, decision, decision_id)
            self.policy_applied = self._apply(final, decision.overrides, request.overrides)
            self._save_booking()
            outcome = "clamped" if final != pod.values else "allowed"
            self.policy_lifetime = decision.lifetime
            self.policy_messages = decision.messages + ([decision.lifetime.sentence()] if decision.lifetime else [])
            self._log_decision(input_doc, decision_id, decision, self.policy_applied)
        except ProfileListError as e:
            outcome = "misconfigured"
            self._undo(snapshot)
            self.log.error("jhpolicy: refusing spawn of %s: profile_list: %s", self._log_name, e)
            raise errors.misconfigured(f"profile_list: {e}") from None
        except (RequestError, InvalidPod) as e:
            outcome = "invalid"
            self._undo(snapshot)
            raise errors.invalid_request(str(e)) from None
        except (opa_client.PolicyUnavailable, decisions.PolicyBroken) as e:
            self._undo(snapshot)
            # Queued behind earlier decisions (OPA answering): falling back to
            # the defaults would start servers no quota checked. Always 503.
            if self.policy_failure_mode == "defaults" and not isinstance(e, Queued):
                self.log.error("jhpolicy: %s; starting %s with the admin's defaults", e, self._log_name)
                try:
                    await self._apply_defaults()
                except ProfileListError as broken:
                    outcome = "misconfigured"
                    raise errors.misconfigured(f"profile_list: {broken}") from None
                except (RequestError, InvalidPod) as invalid:
                    outcome = "invalid"
                    raise errors.invalid_request(str(invalid)) from None
                self.policy_messages = ["The spawn policy could not be checked: started with the defaults."]
                outcome = "defaults"
                return
            self.log.error("jhpolicy: refusing spawn of %s: %s", self._log_name, e)
            raise errors.unavailable() from None
        except BaseException:
            self._undo(snapshot)
            raise
        finally:
            self.policy_outcome = outcome
            metrics.observe(outcome, time.perf_counter() - started)

    def get_env(self):
        # JupyterHub writes MEM_LIMIT, CPU_LIMIT and their guarantees from the
        # spawner's (decided) values, but KubeSpawner then lays `environment`
        # (config, a profile, a group override) over them. What the tools in
        # the server read (jupyter-resource-usage) must be what was decided.
        env = super().get_env()
        for name, key in LIMIT_ENV.items():
            value = getattr(self, key, None)
            if value:
                env[name] = str(value)
            else:
                env.pop(name, None)  # unlimited: as JupyterHub leaves it unset
        return env

    async def get_pod_manifest(self):
        """KubeSpawner's pod, refused unless its image and resources are the
        decided ones. Outside a spawn (no decision yet: code written for
        KubeSpawner inspecting a manifest) it is KubeSpawner's, unchecked: a
        manifest creates nothing, and the check before the API server
        (_make_create_pod_request) refuses any pod no decision approved."""
        pod = await super().get_pod_manifest()
        if self.policy_pod is None:
            return pod
        self.verify_pod(pod)
        # Whose books count this pod (jhpolicy.reconcile: quotas are per hub).
        pod.metadata.labels = {**(pod.metadata.labels or {}), reconcile.HUB_LABEL: self.policy_hub_name}
        charge = self.policy_decision.charge if self.policy_decision is not None else None
        if charge is not None:
            # So the books can be rebuilt from the pod (jhpolicy.reconcile).
            pod.metadata.annotations = {**(pod.metadata.annotations or {}), reconcile.CHARGE_ANNOTATION: charge}
        if self.policy_lifetime is not None:
            # For people with kubectl; the culler reads the state (jhpolicy.lifetime).
            pod.metadata.annotations = {**(pod.metadata.annotations or {}),
                                        lifetime.ANNOTATION: lifetime.annotation(self.policy_lifetime)}
        return pod

    async def _make_create_pod_request(self, pod, request_timeout):
        # The last step before the API server, after modify_pod_hook.
        self.verify_pod(pod)
        return await super()._make_create_pod_request(pod, request_timeout)

    def verify_pod(self, pod) -> None:
        """Refuse (503) a pod whose notebook container differs from the decision."""
        if self.policy_pod is None:
            self.log.error("jhpolicy: refusing pod for %s: no policy decision was made for it", self._log_name)
            raise errors.unavailable()
        mismatches = container_mismatches(pod.spec.containers[0], self.policy_pod)
        if mismatches:
            self.log.error(
                "jhpolicy: refusing pod for %s: it differs from the policy's decision (extra_container_config "
                "or modify_pod_hook?): %s",
                self._log_name,
                "; ".join(mismatches),
            )
            raise errors.unavailable()

    async def progress(self):
        for message in self.policy_messages:
            yield {"progress": 1, "message": f"Spawn policy: {message}"}
        async for event in super().progress():
            yield event

    @default("progress_ready_hook")
    def _progress_ready_hook_default(self):
        # A spawn that finished before the caller opened the progress stream
        # shows only the ready event, so the policy's messages go there too.
        def add_policy_messages(spawner, ready_event):
            if spawner.policy_messages:
                ready_event["policy_messages"] = list(spawner.policy_messages)
                ready_event["message"] += " (spawn policy: " + "; ".join(spawner.policy_messages) + ")"
            return ready_event

        return add_policy_messages

    @default("options_form")
    def _options_form_default(self):
        if not self.profile_list:
            return ""
        return self._policy_options_form

    async def _policy_options_form(self, spawner):
        """KubeSpawner's profile form, with only what the policy lets this
        user pick, under the allowance panel (jhpolicy.spawn_page)."""
        return await SpawnPage(self).form()

    async def allowance_view(self) -> dict:
        """What this spawner's user may launch, how much is in use, and which
        profiles and choices are not available to them with why, as the
        policy describes it (jhpolicy.spawn_page); never raises for a policy
        problem: `allowance.NOT_AVAILABLE`, the reason logged."""
        return await SpawnPage(self).view()

    def _check_config(self):
        # JupyterHub >= 5.3 runs apply_user_options before load_user_options;
        # what it set from user input is already on the spawner, so no
        # failure mode may go ahead: always 503.
        if getattr(self, "apply_user_options", None):
            self.log.error(
                "jhpolicy: refusing spawn of %s: Spawner.apply_user_options is set and applies user input "
                "unchecked; unset it, PolicyKubeSpawner decides user_options itself",
                self._log_name,
            )
            raise errors.unavailable()

    async def _initialised_profile_list(self) -> list[dict]:
        """KubeSpawner's profile list, evaluated and initialised (slugs, one
        default), checked to be one the judges can tell apart
        (ProfileListError otherwise)."""
        profile_list = upstream.sorted_profile_list(self, self.profile_list)
        if callable(profile_list):
            profile_list = await maybe_future(profile_list(self))
        check_profile_list(profile_list, slugs=False)  # what KubeSpawner would trip on, said plainly
        try:
            profile_list = upstream.initialised_profile_list(self, profile_list)
        except (KeyError, TypeError, AttributeError) as e:
            raise ProfileListError(f"KubeSpawner cannot initialise profile_list: {type(e).__name__}: {e}") from None
        check_profile_list(profile_list)
        return profile_list

    def _requester(self):
        handler = getattr(self, "handler", None)
        if handler is None:
            return None
        return handler.current_user

    async def _ask_opa(self, path: str, input_doc: dict) -> opa_client.OPAResponse:
        limits = opa_client.Limits(self.opa_timeout, self.opa_retries, self.opa_max_response_bytes)
        return await opa_client.ask(
            self.opa_url, self.opa_token or None, self.opa_max_connections, path, input_doc, limits
        )

    async def _decide(self, input_doc: dict, pod):
        """The decision and the pod it gives. With `policy_quotas`, the usage
        goes in the input, and reading it, asking OPA and booking the pod
        happen on one of jhpolicy's threads with no other decision in
        between (see jhpolicy.ledger)."""
        limits = opa_client.Limits(self.opa_timeout, self.opa_retries, self.opa_max_response_bytes)
        deadline = time.monotonic() + self.opa_timeout
        groups = input_doc["user"]["groups"]
        user, server = self._server_key
        pod_ref = self._pod_ref
        books = self._ledger() if self.policy_quotas else None
        if books is not None:
            await self._watch_pods()
            self._reconcile_books(running=False)  # what the cluster holds, before the usage is read
        abandoned = self._abandoned

        def decide(client):
            response = opa_client.query(client, self.opa_decision_path, input_doc, limits, deadline)
            decision = decisions.validate(response.result, self.policy_allowed_keys, groups, self.policy_max_lifetime)
            return decision, response.decision_id, self._decided_pod(pod, decision) if decision.allow else None

        def decide_and_book(client):
            try:
                with books.decision_slot(deadline) as waited:
                    # The default pool's usage too: the policy charges a user in no configured group to it.
                    input_doc["usage"] = books.usage(user, [*groups, decisions.DEFAULT_POOL])
                    try:
                        decision, decision_id, final = decide(client)
                    except opa_client.PolicyUnavailable as e:
                        if not waited:  # OPA itself failed: not queued
                            raise
                        raise Queued(
                            f"{e}: what was left of opa_timeout ({self.opa_timeout} s) after {waited:.1f} s waiting "
                            "for earlier spawns' decisions"
                        ) from None
                    if final is not None:
                        books.hold(ledger.Holding.of_pod(user, server, decision.charge, final, pod_ref), unless=abandoned)
                    return decision, decision_id, final
            except ledger.Busy:  # only entering the slot raises it
                raise Queued(
                    f"no decision slot within opa_timeout ({self.opa_timeout} s): earlier spawns' decisions are still pending"
                ) from None

        work = decide_and_book if books is not None else decide
        decision, decision_id, final = await asyncio.wrap_future(
            opa_client.run(self.opa_url, self.opa_token or None, self.opa_max_connections, work)
        )
        if decision.allow and decision.charge is not None and decision.quota:
            metrics.set_quota(decision.charge, decision.quota)
        return decision, decision_id, final

    def _save_booking(self) -> None:
        # JupyterHub saves a spawner's state only once start() returns: put
        # the booking in it and commit now, so a hub restarted (or killed)
        # while this spawn is pending still finds it.
        if self.policy_quotas and getattr(self.orm_spawner, "server", None) is not None and hasattr(self.orm_spawner, "state"):
            self.orm_spawner.state = self.get_state()
            db = getattr(self.user, "db", None)
            if db is not None:
                db.commit()

    def _ledger(self) -> ledger.Ledger:
        return ledger.for_hub(self.hub)

    @property
    def _server_key(self) -> tuple:
        """How the books name this server: by the database ids JupyterHub
        gives the user and the server, which renaming either does not
        change (`jhpolicy check` and offline spawns have none: by name)."""
        orm_user = getattr(self.user, "orm_user", None)
        server_id = getattr(self.orm_spawner, "id", None)
        return (
            orm_user.id if orm_user is not None else self.user.name,
            server_id if isinstance(server_id, int) else self.name or "",
        )

    def _undo(self, snapshot: dict) -> None:
        """A refused or failed spawn: the configuration as it was, nothing
        booked, not even by a decision still in flight (a cancelled spawn)."""
        self._restore(snapshot)
        self._abandoned.set()
        self._release()

    def _release(self) -> None:
        if self.policy_quotas:
            self._ledger().release(*self._server_key)

    def start(self):
        # Not a coroutine, as in KubeSpawner: the spawn is scheduled at once and
        # its Future returned, which progress() waits on even before anyone
        # awaits start() (KubeSpawner's own test_spawn_progress does this).
        future = super().start()
        future.add_done_callback(self._release_if_failed)
        return future

    def _release_if_failed(self, future: asyncio.Future) -> None:
        # JupyterHub stops a failed spawn (and clear_state releases it);
        # releasing here too covers callers that only call start(). Done
        # callbacks run before the awaiting caller resumes.
        if future.cancelled() or future.exception() is not None:
            self._release()

    def clear_state(self):
        """Called when a server stops (also when the pod vanished outside the
        hub and its poll saw it) and before each new start: nothing is held
        (but a server whose stop failed, while its pod is there)."""
        super().clear_state()
        self._release()
        self.policy_lifetime = None

    async def stop(self, now=False):
        if self.policy_lifetime is not None:
            metrics.count_cull(self.policy_lifetime, self.orm_spawner)
        try:
            return await super().stop(now=now)
        except BaseException:
            # JupyterHub considers the server stopped anyway; its pod may
            # still hold what it was decided. Booked until the pod is gone.
            if self.policy_quotas:
                self._ledger().orphan(*self._server_key)
            raise

    async def poll(self):
        status = await super().poll()
        if self.policy_quotas:
            self._reconcile_books(running=status is None)
        return status

    def _reconcile_books(self, running: bool) -> None:
        """Make the books agree with the pods (see jhpolicy.reconcile)."""
        books = self._ledger()
        pods = getattr(self.pod_reflector, "pods", None)
        if pods is None:
            return
        if books.refresh is None:
            books.refresh = self._releaser_of_gone_pods(books)
        books.refresh()
        pod = pods.get(self._pod_ref)
        if running and pod is not None and self._server_key not in books.holdings:
            holding = reconcile.holding_from_pod(*self._server_key, pod, self._pod_ref)
            books.hold(holding)
            self.log.warning(
                "jhpolicy: %s was running without a booking (started before quotas were on, or its saved booking "
                "was lost): booked from its pod, charged to %s", self._log_name, holding.group or "no group",
            )
        for ref in books.unnamed(pods):
            holding = reconcile.unnamed_holding(ref, pods[ref], self._user_key, self.policy_hub_name)
            if holding is not None and books.hold_unnamed(holding):
                self.log.warning(
                    "jhpolicy: pod %s holds resources but no server of this hub's books names it (a stop that "
                    "failed before a restart, or a pod the hub did not start): booked until it is gone, charged "
                    "to %s", ref, holding.group or "no group",
                )

    def _releaser_of_gone_pods(self, books: ledger.Ledger):
        """Release the books' bookings whose pod the hub's pod reflector no
        longer shows (run at each reconcile and each /hub/metrics scrape).
        It reads the reflector through the class, as KubeSpawner shares it,
        so it never holds this spawner."""
        (reflectors, key), log = upstream.pod_reflectors(self), self.log

        def release() -> None:
            reflector = reflectors.get(key)
            pods = getattr(reflector, "pods", None)
            if pods is None:
                return
            for holding in books.release_gone(lambda ref: reconcile.holds_resources(pods.get(ref))):
                log.info("jhpolicy: released the booking of pod %s: the pod is gone", holding.pod)

        return release

    def _user_key(self, name: str):
        """The books' key of a user named `name` (its database id), or the
        name itself for a user this hub does not know."""
        db = getattr(self.user, "db", None)
        if db is None or getattr(self.user, "orm_user", None) is None:
            return name
        from jupyterhub import orm

        found = orm.User.find(db, name)
        return found.id if found is not None else name

    async def _watch_pods(self) -> None:
        """The pod reflector, started (KubeSpawner starts it only after
        load_user_options) and fully listed, so a decision sees every pod.
        Only in a hub: `jhpolicy check` and offline spawns have no cluster.
        Pods that cannot be listed (the API server unreachable) cannot be
        counted: the policy is unavailable (503), within opa_timeout."""
        if getattr(self.user, "orm_user", None) is None:
            return
        reflector = self.pod_reflector
        loaded = reflector.first_load_future if reflector is not None else None
        if loaded is not None and loaded.done() and not loaded.cancelled() and loaded.exception() is None:
            return  # listed already: no task per decision
        try:
            await asyncio.wait_for(upstream.start_watching_pods(self), self.opa_timeout)
        except Exception as e:  # noqa: BLE001  (anything: the books cannot be made to agree with the cluster)
            self._forget_pod_reflector_if_it_fails()
            raise opa_client.PolicyUnavailable(
                f"cannot list the hub's pods to count them for quotas: {type(e).__name__}: {e}"
            ) from None

    def _forget_pod_reflector_if_it_fails(self) -> None:
        """A pod reflector whose first listing failed stays registered on
        the class, and every later spawn would await its failure again: drop
        it (now, or when its listing fails), so the next decision starts a new one."""
        reflector, (reflectors, key) = self.pod_reflector, upstream.pod_reflectors(self)
        if reflector is None:
            return

        def forget(future) -> None:
            if not future.cancelled() and future.exception() is not None and reflectors.get(key) is reflector:
                del reflectors[key]

        reflector.first_load_future.add_done_callback(forget)

    @property
    def _pod_ref(self) -> str:
        return f"{self.namespace}/{self.pod_name}"

    def get_state(self):
        state = super().get_state()
        holding = self._ledger().holdings.get(self._server_key) if self.policy_quotas else None
        if holding is not None:
            state["jhpolicy_holding"] = holding.to_state()
        if self.policy_lifetime is not None:
            state[lifetime.STATE_KEY] = self.policy_lifetime.to_json()
        return state

    def load_state(self, state):
        """A restarted hub rebuilds the books from the active servers' state;
        booking is by server, so loading one twice never counts it twice."""
        super().load_state(state)
        try:
            self.policy_lifetime = lifetime.saved(state)
        except ValueError as e:
            self.log.error("jhpolicy: %s has an unreadable saved lifetime (%s): the culler's own rules apply", self._log_name, e)
        saved = state.get("jhpolicy_holding")
        if not saved or not self.policy_quotas or getattr(self.orm_spawner, "server", None) is None:
            return
        try:
            self._ledger().hold(ledger.Holding.from_state(*self._server_key, saved, self._pod_ref))
        except (KeyError, TypeError, ValueError, ArithmeticError, AttributeError) as e:
            self.log.error("jhpolicy: cannot book %s from its saved state (%s): it counts for nothing", self._log_name, e)

    def _load_profile_for(self, slug: str | None, profile_list: list[dict], user_options: dict) -> None:
        """KubeSpawner's own profile machinery (profile, then its options'
        choices or unlisted choices), on the list built once per spawn."""
        if not profile_list:
            return
        saved = self.user_options
        self.user_options = user_options
        try:
            upstream.load_profile(self, slug, profile_list)
        except (ValueError, KeyError) as e:
            raise RequestError(str(e)) from None
        finally:
            self.user_options = saved

    def _start_shadow(self, input_doc: dict, pod, decision, decision_id: str | None) -> None:
        """Ask the candidate policy too, without waiting for it (see jhpolicy.shadow)."""
        if not self.opa_shadow_decision_path:
            return
        live = shadow.outcome_of(decision, pod.values, pod.sources)
        if not shadow.admit():
            shadow.SHADOW_DECISIONS.labels(live=live.name, shadow="skipped", agree="unknown").inc()
            return
        limits = opa_client.Limits(self.opa_timeout, self.opa_retries, self.opa_max_response_bytes)
        comparison = shadow.Comparison(
            live, decision_id, pod.values, self.policy_allowed_keys, f"user={self.user.name} server={self.name!r}", self.log,
            input_doc["user"]["groups"], pod.sources,
        )
        future = opa_client.submit(
            self.opa_shadow_url or self.opa_url, self.opa_token or None, self.opa_max_connections,
            self.opa_shadow_decision_path, input_doc, limits, lane="shadow",
        )
        future.add_done_callback(comparison.finish)
        self.policy_shadow = comparison

    def _decided_pod(self, pod, decision) -> dict:
        """The final values; a pod Kubernetes would refuse is the caller's
        fault (400) if they asked for it, the policy's (503) if its changes made it."""
        try:
            return decided(pod.values, decision.overrides, pod.sources)
        except InvalidPod as e:
            decided(pod.values, {}, pod.sources)  # raises InvalidPod (a 400) if the request alone is the problem
            raise decisions.PolicyBroken(f"decision.overrides: {e}") from None

    def _apply(self, final: dict, decided: dict, requested: dict) -> dict:
        """Set the pod's values: every parsed key explicitly (so the pod says
        what Kubernetes would otherwise infer), other ceiling keys where the
        decision or the request set them. Returns what changed."""
        applied = {}
        for key, value in final.items():
            if key in PARSERS:
                value = trait_value(key, value)
            elif key in decided or key in requested:
                source = decided if key in decided else requested
                value, current = source[key], getattr(self, key, None)
                if isinstance(value, dict) and isinstance(current, dict):
                    value = {**current, **value}
            else:
                continue
            before = getattr(self, key, None)
            try:
                setattr(self, key, value)
            except TraitError as e:
                raise decisions.PolicyBroken(f"decided value for {key} rejected by the spawner: {e}") from None
            if getattr(self, key, None) != before:
                applied[key] = getattr(self, key)
        self.policy_pod = final
        return applied

    async def _apply_defaults(self) -> None:
        """The admin's configured defaults, default profile included, as an
        empty request would get them (policy_failure_mode = "defaults")."""
        profile_list = await self._initialised_profile_list()
        request = parse_request({}, profile_list)
        self._load_profile_for(request.profile, profile_list, {})
        pod = prospective(self, request, selected_profile(request.profile, profile_list), self.policy_allowed_keys)
        self._apply(pod.values, {}, {})
        if self.policy_quotas:
            # Unchecked by any quota (the admin chose this mode), but counted.
            self._ledger().hold(ledger.Holding.of_pod(*self._server_key, None, pod.values, self._pod_ref))

    def _changeable_keys(self, profile: dict | None) -> set[str]:
        """What this request can change: what a decision may set, and what the
        selected profile's overrides (and its options' overrides) set."""
        keys = set(self.policy_allowed_keys)
        if profile:
            keys |= set(profile.get("kubespawner_override", {}))
            for option in profile.get("profile_options", {}).values():
                for choice in option.get("choices", {}).values():
                    keys |= set(choice.get("kubespawner_override", {}))
                keys |= set(option.get("unlisted_choice", {}).get("kubespawner_override", {}))
        return keys

    def _snapshot(self, keys) -> dict:
        return {name: _copy_containers(getattr(self, name)) for name in keys if self.has_trait(name)}

    def _restore(self, snapshot: dict) -> None:
        for name, value in snapshot.items():
            try:
                if getattr(self, name) != value:
                    self.set_trait(name, value)
            except Exception:
                self.log.exception("jhpolicy: could not restore %s on %s", name, self._log_name)

    def _log_decision(self, input_doc, decision_id, decision, applied):
        if not self.policy_log_decisions:
            return
        requester = input_doc["requester"]
        self.log.info(
            "jhpolicy decision user=%s requester=%s:%s server=%r decision_id=%s allow=%s applied=%s messages=%s",
            input_doc["user"]["name"],
            requester["kind"],
            requester["name"],
            input_doc["server"]["name"],
            decision_id or "-",
            decision.allow,
            json.dumps(applied, sort_keys=True, default=str),
            json.dumps(decision.messages),
        )


class Queued(opa_client.PolicyUnavailable):
    """No decision in time because earlier spawns' decisions held the slot
    (policy_quotas): OPA may be answering, so never a reason for the defaults."""


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


def _check_token_at_hub_start() -> None:
    """JupyterHub imports the spawner class while it loads its configuration,
    before any spawner exists: check the token then, so a bad one stops the
    hub with a clear error instead of failing every spawn later."""
    import os

    from traitlets.config import Application

    checked_token(os.environ.get("JHPOLICY_OPA_TOKEN", ""))
    if Application.initialized():
        configured = Application.instance().config.get("PolicyKubeSpawner", {}).get("opa_token")
        if isinstance(configured, str):
            checked_token(configured)


def _copy_containers(value):
    # KubeSpawner's profile overrides mutate dicts in place, so containers are
    # copied; anything else (callables, methods bound to the spawner) is kept
    # by reference: deep-copying a bound method would copy the whole spawner.
    if isinstance(value, dict):
        return {k: _copy_containers(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return type(value)(_copy_containers(v) for v in value)
    return value


_check_token_at_hub_start()
