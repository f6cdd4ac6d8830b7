"""One server's side of its hub's books (jhpolicy.hub.ledger), for PolicyKubeSpawner.

The spawner builds one :class:`ServerBooks` and calls it at the points of a
server's life where the books change: before a decision (read what the
cluster holds), the decision itself (usage read, OPA asked and the pod
booked in one slot), a refusal, a stop, a poll, the hub's restart (the
saved state). With `policy_quotas` off every call is a no-op, so the
spawner has no branch of its own for it.

How a server is named in the books: by the database ids JupyterHub gives the
user and the server, which renaming either does not change; by name where
there is no database row (KubeSpawner's own tests' mock users). Spawners
built outside a hub (`jhpolicy check`, offline spawns) have no cluster:
jhpolicy.tooling.offline gives them books that never list pods.
"""

from __future__ import annotations

import asyncio
import threading

from ..core import decision as decisions
from . import ledger, opa_http, reconcile, upstream

STATE_KEY = "jhpolicy_holding"


class Queued(opa_http.PolicyUnavailable):
    """No decision in time because earlier spawns' decisions held the slot
    (policy_quotas): OPA may be answering, so never a reason for the defaults."""


class ServerBooks:
    def __init__(self, spawner) -> None:
        self.spawner = spawner
        # Set when the server's spawn is refused, fails or is cancelled: its
        # decision, if still in flight on jhpolicy's threads, must not book anything.
        self.abandoned = threading.Event()

    @property
    def on(self) -> bool:
        return bool(self.spawner.policy_quotas)

    @property
    def ledger(self) -> ledger.Ledger:
        return ledger.for_hub(self.spawner.hub)

    @property
    def key(self) -> tuple:
        """(user, server): database ids in a hub, names outside one."""
        spawner = self.spawner
        orm_user = getattr(spawner.user, "orm_user", None)
        server_id = getattr(spawner.orm_spawner, "id", None)
        return (
            orm_user.id if orm_user is not None else spawner.user.name,
            server_id if isinstance(server_id, int) else spawner.name or "",
        )

    @property
    def pod_ref(self) -> str:
        return f"{self.spawner.namespace}/{self.spawner.pod_name}"

    def usage(self, groups: list[str]) -> dict:
        """input.usage for this server's user in `groups`."""
        return self.read_usage(self.ledger, self.key[0], groups)

    def read_usage(self, books: ledger.Ledger, user, groups: list[str]) -> dict:
        # The default pool's usage too: the policy charges a user in no configured group to it.
        return books.usage(user, [*groups, decisions.DEFAULT_POOL])

    # -- a decision ---------------------------------------------------------

    def begin(self) -> None:
        """A new spawn: nothing of it is abandoned yet."""
        self.abandoned = threading.Event()

    async def before_deciding(self) -> None:
        """Make the books agree with the cluster before the usage is read."""
        if self.on:
            await self._watch_pods()
            self.reconcile(running=False)

    def deciding(self, decide, input_doc: dict, deadline: float, timeout: float):
        """`decide(client)`, run with no other decision in between: the usage
        goes in the input first, and the pod it approves is booked before
        the slot is left (unless the spawn was abandoned meanwhile)."""
        if not self.on:
            return decide
        books, (user, server), pod_ref, abandoned = self.ledger, self.key, self.pod_ref, self.abandoned
        groups, read_usage = input_doc["user"]["groups"], self.read_usage

        def decide_and_book(client):
            try:
                with books.decision_slot(deadline) as waited:
                    input_doc["usage"] = read_usage(books, user, groups)
                    try:
                        decision, decision_id, final = decide(client)
                    except opa_http.PolicyUnavailable as e:
                        if not waited:  # OPA itself failed, or was never asked (NotAsked): not queued here
                            raise
                        raise Queued(
                            f"{e}: what was left of opa_timeout ({timeout} s) after {waited:.1f} s waiting "
                            "for earlier spawns' decisions"
                        ) from None
                    if final is not None:
                        books.hold(ledger.Holding.of_pod(user, server, decision.charge, final, pod_ref), unless=abandoned)
                    return decision, decision_id, final
            except ledger.Busy:  # only entering the slot raises it
                raise Queued(
                    f"no decision slot within opa_timeout ({timeout} s): earlier spawns' decisions are still pending"
                ) from None

        return decide_and_book

    def hold_unchecked(self, values: dict) -> None:
        """The defaults started when the policy could not be checked: counted, charged to no group."""
        if self.on:
            self.ledger.hold(ledger.Holding.of_pod(*self.key, None, values, self.pod_ref))

    def abandon(self) -> None:
        """A refused or failed spawn: nothing booked, not even by a decision still in flight."""
        self.abandoned.set()
        self.release()

    def release(self) -> None:
        if self.on:
            self.ledger.release(*self.key)

    def orphan(self) -> None:
        """A stop that failed: booked until the pod is gone."""
        if self.on:
            self.ledger.orphan(*self.key)

    # -- the saved state ----------------------------------------------------

    def save(self) -> None:
        """JupyterHub saves a spawner's state only once start() returns: put
        the booking in it and commit now, so a hub restarted (or killed)
        while this spawn is pending still finds it."""
        orm_spawner = self.spawner.orm_spawner
        if self.on and getattr(orm_spawner, "server", None) is not None and hasattr(orm_spawner, "state"):
            orm_spawner.state = self.spawner.get_state()
            db = getattr(self.spawner.user, "db", None)
            if db is not None:
                db.commit()

    def state(self) -> dict:
        holding = self.ledger.holdings.get(self.key) if self.on else None
        return {STATE_KEY: holding.to_state()} if holding is not None else {}

    def load(self, state: dict) -> None:
        """A restarted hub rebuilds the books from the active servers' state;
        booking is by server, so loading one twice never counts it twice."""
        saved = state.get(STATE_KEY)
        if not saved or not self.on or getattr(self.spawner.orm_spawner, "server", None) is None:
            return
        try:
            self.ledger.hold(ledger.Holding.from_state(*self.key, saved, self.pod_ref))
        except (KeyError, TypeError, ValueError, ArithmeticError, AttributeError) as e:
            self.spawner.log.error(
                "jhpolicy: cannot book %s from its saved state (%s): it counts for nothing", upstream.log_name(self.spawner), e
            )

    # -- agreeing with the cluster (jhpolicy.hub.reconcile) --------------------

    def reconcile(self, running: bool) -> None:
        """Make the books agree with the pods the hub's pod reflector lists."""
        if not self.on:
            return
        spawner, books = self.spawner, self.ledger
        pods = getattr(spawner.pod_reflector, "pods", None)
        if pods is None:
            return
        if books.refresh is None:
            books.refresh = self._releaser_of_gone_pods(books)
        books.refresh()
        pod = pods.get(self.pod_ref)
        if running and pod is not None and self.key not in books.holdings:
            holding = reconcile.holding_from_pod(*self.key, pod, self.pod_ref)
            books.hold(holding)
            spawner.log.warning(
                "jhpolicy: %s was running without a booking (started before quotas were on, or its saved booking "
                "was lost): booked from its pod, charged to %s", upstream.log_name(spawner), holding.group or "no group",
            )
        for ref in books.unnamed(pods):
            holding = reconcile.unnamed_holding(ref, pods[ref], self._user_key, spawner.policy_hub_name)
            if holding is not None and books.hold_unnamed(holding):
                spawner.log.warning(
                    "jhpolicy: pod %s holds resources but no server of this hub's books names it (a stop that "
                    "failed before a restart, or a pod the hub did not start): booked until it is gone, charged "
                    "to %s", ref, holding.group or "no group",
                )

    def _releaser_of_gone_pods(self, books: ledger.Ledger):
        """Release the books' bookings whose pod the hub's pod reflector no
        longer shows (run at each reconcile and each /hub/metrics scrape).
        It reads the reflector through the class, as KubeSpawner shares it,
        so it never holds this spawner."""
        (reflectors, key), log = upstream.pod_reflectors(self.spawner), self.spawner.log

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
        db = getattr(self.spawner.user, "db", None)
        if db is None:
            return name
        from jupyterhub import orm

        found = orm.User.find(db, name)
        return found.id if found is not None else name

    async def _watch_pods(self) -> None:
        """The pod reflector, started (KubeSpawner starts it only after
        load_user_options) and fully listed, so a decision sees every pod.
        Pods that cannot be listed (the API server unreachable) cannot be
        counted: the policy is unavailable (503), within opa_timeout."""
        spawner = self.spawner
        reflector = spawner.pod_reflector
        loaded = reflector.first_load_future if reflector is not None else None
        if loaded is not None and loaded.done() and not loaded.cancelled() and loaded.exception() is None:
            return  # listed already: no task per decision
        try:
            await asyncio.wait_for(upstream.start_watching_pods(spawner), spawner.opa_timeout)
        except Exception as e:  # noqa: BLE001  (anything: the books cannot be made to agree with the cluster)
            self._forget_pod_reflector_if_it_fails()
            raise opa_http.PolicyUnavailable(
                f"cannot list the hub's pods to count them for quotas: {type(e).__name__}: {e}"
            ) from None

    def _forget_pod_reflector_if_it_fails(self) -> None:
        """A pod reflector whose first listing failed stays registered on
        the class, and every later spawn would await its failure again: drop
        it (now, or when its listing fails), so the next decision starts a new one."""
        reflector, (reflectors, key) = self.spawner.pod_reflector, upstream.pod_reflectors(self.spawner)
        if reflector is None:
            return

        def forget(future) -> None:
            if not future.cancelled() and future.exception() is not None and reflectors.get(key) is reflector:
                del reflectors[key]

        reflector.first_load_future.add_done_callback(forget)


