"""PolicyKubeSpawner: KubeSpawner whose pods are decided by OPA.

The flow in :meth:`PolicyKubeSpawner.load_user_options`, which KubeSpawner
awaits first thing in ``_start``, before the pod manifest is built:

    user_options -> parse_request -> (KubeSpawner applies the profile)
    -> pod.prospective (the pod it would give, every layer) -> build_input
    -> OPA -> decision.validate -> pod.approved -> set on the spawner

and then :meth:`PolicyKubeSpawner.verify_pod` checks the built pod (again
after ``modify_pod_hook``) against the decided values.

The spawner is that pipeline and KubeSpawner's overrides; the work is done
by collaborators, each in its own module: the traits (jhpolicy.hub.settings),
the OPA server they name (jhpolicy.hub.opa_http), the books of what servers
hold (jhpolicy.hub.books), the trait values a spawn sets and puts back
(jhpolicy.hub.transaction), the spawn page and allowance view
(jhpolicy.hub.spawn_page), the shadow policy (jhpolicy.hub.shadow), and KubeSpawner's
private members (jhpolicy.hub.upstream). Anything that goes wrong restores the
spawner's configuration as it was before the request, so a refused request
changes nothing.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time

from kubespawner import KubeSpawner
from traitlets import default

from .core import decision as decisions
from .core import lifetime
from .core.opa_input import build_input
from .core.pod import InvalidPod, approved, container_mismatches, prospective
from .core.request import ProfileListError, RequestError, parse_request, selected_profile
from .hub import errors, failure_count, metrics, opa_http, reconcile, shadow, transaction, upstream
from .hub.books import Queued, ServerBooks
from .hub.settings import PolicySettings
from .hub.spawn_page import SpawnPage

# What JupyterHub's Spawner.get_env sets from each value.
LIMIT_ENV = {"MEM_LIMIT": "mem_limit", "MEM_GUARANTEE": "mem_guarantee", "CPU_LIMIT": "cpu_limit", "CPU_GUARANTEE": "cpu_guarantee"}

# What refuses a spawn (or, OPA's failures, may start it with the defaults).
REFUSALS = (ProfileListError, RequestError, InvalidPod, opa_http.PolicyUnavailable, decisions.PolicyBroken)


class PolicyKubeSpawner(PolicySettings, KubeSpawner):
    """A KubeSpawner that lets users ask for an image, CPU and memory, as an OPA policy allows."""

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
    # the state, where jhpolicy's culler arbiter reads it: jhpolicy.core.lifetime).
    policy_lifetime: lifetime.Lifetime | None = None

    @functools.cached_property
    def policy_books(self) -> ServerBooks:
        """This server's side of the hub's books (policy_quotas)."""
        return ServerBooks(self)

    async def load_user_options(self):
        started, outcome, snapshot = time.perf_counter(), "error", None
        self.policy_messages, self.policy_applied, self.policy_decision = [], {}, None
        self.policy_input = self.policy_pod = self.policy_shadow = self.policy_lifetime = None
        self.policy_books.begin()
        if errors.SpawnException is None:  # JupyterHub 5 counts refusals as failures
            failure_count.exempt_refusals(self)
        try:
            self._check_config()
            profile_list = await upstream.profile_list(self)
            request = parse_request(
                self.user_options, profile_list, self.policy_max_request_bytes, self.policy_max_request_keys
            )
            profile = selected_profile(request.profile, profile_list)
            snapshot = transaction.Snapshot(self, transaction.changeable_keys(self.policy_allowed_keys, profile))
            upstream.load_profile_for(self, request.profile, profile_list, self.user_options)
            pod = prospective(self, request, profile, self.policy_allowed_keys)
            input_doc = self.policy_input = build_input(self, request, self._requester(), pod)
            if self.policy_send_auth_state:
                input_doc["user"]["auth_state"] = await self.user.get_auth_state()
            decision, decision_id, final = await self._decide(input_doc, pod)
            self.policy_decision, outcome = decision, decisions.outcome_of(decision, pod.values, final)
            self._start_shadow(input_doc, pod, decision, decision_id)
            if not decision.allow:
                self._log_decision(input_doc, decision_id, decision, {})
                if outcome == "misconfigured":  # the admin's data: worth an error, not just a decision line
                    self.log.error("jhpolicy: refusing spawn of %s: %s", upstream.log_name(self), "; ".join(decision.messages))
                raise errors.denied(decision.messages, reason=decision.reason or "denied", help=decision.help)
            self.policy_applied = transaction.apply(self, final, decision.overrides, request.overrides)
            self.policy_pod, self.policy_lifetime = final, decision.lifetime
            self.policy_books.save()
            self.policy_messages = decision.messages + ([decision.lifetime.sentence()] if decision.lifetime else [])
            self._log_decision(input_doc, decision_id, decision, self.policy_applied)
        except REFUSALS as e:
            self._undo(snapshot)
            if self._falls_back(e):
                self.log.error("jhpolicy: %s; starting %s with the admin's defaults", e, upstream.log_name(self))
                try:
                    outcome = await self._start_with_defaults()
                    return
                except REFUSALS as broken:
                    e = broken
            outcome, refusal = self._refusal(e)
            raise refusal from None
        except BaseException:
            self._undo(snapshot)
            raise
        finally:
            self.policy_outcome = outcome
            metrics.observe(outcome, time.perf_counter() - started)

    async def _decide(self, input_doc: dict, pod):
        """The decision and the pod it approves. With `policy_quotas`, reading
        the usage, asking OPA and booking the pod happen on one of jhpolicy's
        threads with no other decision in between (jhpolicy.hub.books)."""
        opa, books = self.opa(), self.policy_books
        path, ceiling, groups, max_lifetime = (
            self.opa_decision_path, self.policy_allowed_keys, input_doc["user"]["groups"], self.policy_max_lifetime
        )
        await books.before_deciding()
        # opa_timeout starts here, where the check is handed to jhpolicy's
        # threads, with no await in between: time the hub's busy event loop
        # took to come back to this spawn is not OPA's (jhpolicy.hub.opa_http).
        deadline = time.monotonic() + self.opa_timeout

        def decide(client):
            response = opa_http.query(client, path, input_doc, opa.limits, deadline)
            decision = decisions.validate(response.result, ceiling, groups, max_lifetime)
            return decision, response.decision_id, approved(pod, decision.overrides) if decision.allow else None

        work = books.deciding(decide, input_doc, deadline, self.opa_timeout)
        decision, decision_id, final = await asyncio.wrap_future(opa.run(work))
        if decision.allow and decision.charge is not None and decision.quota:
            metrics.set_quota(decision.charge, decision.quota)
        return decision, decision_id, final

    def _falls_back(self, e: Exception) -> bool:
        # Queued behind earlier decisions, or in the hub until no time was
        # left to ask OPA (OPA answering): falling back to the defaults would
        # start servers no policy or quota checked. Always 503.
        failed = (isinstance(e, opa_http.PolicyUnavailable | decisions.PolicyBroken)
                  and not isinstance(e, Queued | opa_http.NotAsked))
        return failed and self.policy_failure_mode == "defaults"

    def _refusal(self, e: Exception) -> tuple[str, Exception]:
        """The outcome of a spawn that failed with `e`, and what its caller gets."""
        if isinstance(e, ProfileListError):
            self.log.error("jhpolicy: refusing spawn of %s: profile_list: %s", upstream.log_name(self), e)
            return "misconfigured", errors.misconfigured(f"profile_list: {e}")
        if isinstance(e, RequestError | InvalidPod):
            return "invalid", errors.invalid_request(str(e))
        self.log.error("jhpolicy: refusing spawn of %s: %s", upstream.log_name(self), e)
        return "unavailable", errors.unavailable()

    async def _start_with_defaults(self) -> str:
        """The admin's configured defaults, default profile included, as an
        empty request would get them (policy_failure_mode = "defaults")."""
        profile_list = await upstream.profile_list(self)
        request = parse_request({}, profile_list)
        upstream.load_profile_for(self, request.profile, profile_list, {})
        pod = prospective(self, request, selected_profile(request.profile, profile_list), self.policy_allowed_keys)
        transaction.apply(self, pod.values, {}, {})
        self.policy_pod = pod.values
        self.policy_books.hold_unchecked(pod.values)  # unchecked by any quota (the admin chose this mode), but counted
        self.policy_messages = ["The spawn policy could not be checked: started with the defaults."]
        return "defaults"

    def _undo(self, snapshot: transaction.Snapshot | None) -> None:
        """A refused or failed spawn: the configuration as it was, nothing
        booked, not even by a decision still in flight (a cancelled spawn)."""
        if snapshot is not None:
            snapshot.restore(self)
        self.policy_books.abandon()

    def _start_shadow(self, input_doc: dict, pod, decision, decision_id: str | None) -> None:
        if self.opa_shadow_decision_path:
            self.policy_shadow = shadow.start(
                self.opa(self.opa_shadow_url), self.opa_shadow_decision_path, input_doc, pod, decision, decision_id,
                self.policy_allowed_keys, f"user={self.user.name} server={self.name!r}", self.log,
            )

    def _check_config(self):
        # JupyterHub >= 5.3 runs apply_user_options before load_user_options;
        # what it set from user input is already on the spawner, so no
        # failure mode may go ahead: always 503.
        if getattr(self, "apply_user_options", None):
            self.log.error(
                "jhpolicy: refusing spawn of %s: Spawner.apply_user_options is set and applies user input "
                "unchecked; unset it, PolicyKubeSpawner decides user_options itself",
                upstream.log_name(self),
            )
            raise errors.unavailable()

    def _requester(self):
        handler = getattr(self, "handler", None)
        return None if handler is None else handler.current_user

    def _log_decision(self, input_doc, decision_id, decision, applied):
        if not self.policy_log_decisions:
            return
        requester = input_doc["requester"]
        self.log.info(
            "jhpolicy decision user=%s requester=%s:%s server=%r decision_id=%s allow=%s applied=%s messages=%s",
            input_doc["user"]["name"], requester["kind"], requester["name"], input_doc["server"]["name"],
            decision_id or "-", decision.allow, json.dumps(applied, sort_keys=True, default=str),
            json.dumps(decision.messages),
        )

    # -- the pod -------------------------------------------------------------

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
        # Whose books count this pod (jhpolicy.hub.reconcile: quotas are per hub).
        labels, annotations = {reconcile.HUB_LABEL: self.policy_hub_name}, {}
        charge = self.policy_decision.charge if self.policy_decision is not None else None
        if charge is not None:  # so the books can be rebuilt from the pod (jhpolicy.hub.reconcile)
            annotations[reconcile.CHARGE_ANNOTATION] = charge
        if self.policy_lifetime is not None:  # for people with kubectl; the culler reads the state
            annotations[lifetime.ANNOTATION] = lifetime.annotation(self.policy_lifetime)
        pod.metadata.labels = {**(pod.metadata.labels or {}), **labels}
        if annotations:
            pod.metadata.annotations = {**(pod.metadata.annotations or {}), **annotations}
        return pod

    async def _make_create_pod_request(self, pod, request_timeout):
        # The last step before the API server, after modify_pod_hook.
        self.verify_pod(pod)
        return await super()._make_create_pod_request(pod, request_timeout)

    def verify_pod(self, pod) -> None:
        """Refuse (503) a pod whose notebook container differs from the decision."""
        if self.policy_pod is None:
            self.log.error("jhpolicy: refusing pod for %s: no policy decision was made for it", upstream.log_name(self))
            raise errors.unavailable()
        mismatches = container_mismatches(pod.spec.containers[0], self.policy_pod)
        if mismatches:
            self.log.error(
                "jhpolicy: refusing pod for %s: it differs from the policy's decision (extra_container_config "
                "or modify_pod_hook?): %s",
                upstream.log_name(self),
                "; ".join(mismatches),
            )
            raise errors.unavailable()

    # -- what the user sees ----------------------------------------------------

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
        user pick, under the allowance panel (jhpolicy.hub.spawn_page)."""
        return await SpawnPage(self).form()

    async def get_options_form(self):
        # JupyterHub's own wraps a callable options_form's coroutine in a
        # task (jupyterhub.utils.maybe_future), so every page waits one turn
        # of the event loop before its form starts, behind every request
        # that arrived meanwhile; with many pages at once their answers all
        # leave at the end. Awaited directly, a page whose view is kept
        # (jhpolicy.hub.view_cache) is answered without giving up the loop.
        if self.options_form == self._policy_options_form:
            return await self._policy_options_form(self)
        return await super().get_options_form()

    async def allowance_view(self) -> dict:
        """What this spawner's user may launch, how much is in use, and which
        profiles and choices are not available to them with why, as the
        policy describes it (jhpolicy.hub.spawn_page); never raises for a policy
        problem: `allowance.NOT_AVAILABLE`, the reason logged."""
        return await SpawnPage(self).view()

    # -- the server's life: the books (jhpolicy.hub.books) and the lifetime ----------

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
            self.policy_books.release()

    def clear_state(self):
        """Called when a server stops (also when the pod vanished outside the
        hub and its poll saw it) and before each new start: nothing is held
        (but a server whose stop failed, while its pod is there)."""
        super().clear_state()
        self.policy_books.release()
        self.policy_lifetime = None

    async def stop(self, now=False):
        if self.policy_lifetime is not None:
            metrics.count_cull(self.policy_lifetime, self.orm_spawner)
        try:
            return await super().stop(now=now)
        except BaseException:
            # JupyterHub considers the server stopped anyway; its pod may
            # still hold what it was decided. Booked until the pod is gone.
            self.policy_books.orphan()
            raise

    async def poll(self):
        status = await super().poll()
        self.policy_books.reconcile(running=status is None)
        return status

    def get_state(self):
        state = {**super().get_state(), **self.policy_books.state()}
        if self.policy_lifetime is not None:
            state[lifetime.STATE_KEY] = self.policy_lifetime.to_json()
        return state

    def load_state(self, state):
        super().load_state(state)
        try:
            self.policy_lifetime = lifetime.saved(state)
        except ValueError as e:
            self.log.error("jhpolicy: %s has an unreadable saved lifetime (%s): the culler's own rules apply", upstream.log_name(self), e)
        self.policy_books.load(state)
