"""The books: what every active server of the hub holds, for quotas.

Each active (pending or running) server holds its final approved values,
charged to at most one group, the one the policy chose. Totals are kept
incrementally per user, per user and group, per group and for the hub, so a
decision reads them in O(number of the user's groups) whatever the number of
active servers.

Race-freedom: reading the usage, asking OPA and booking the decided values
happen under one lock (:meth:`Ledger.decision_slot`), so two concurrent
spawns never decide on the same headroom. It is held on jhpolicy's OPA
threads, not the hub's event loop, so a hub busy with a burst does not
lengthen it. Releases take only the short lock that guards the totals:
freeing capacity never makes an earlier decision wrong.

Amounts are summed as :class:`~decimal.Decimal` from the values' own text, so
adding and removing 0.1 CPU a thousand times comes back to exactly 0.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from ..core.quantities import LIMIT_OF, SCALAR_KEYS
from . import metrics


@dataclass(frozen=True)
class Holding:
    """What one server holds, the group it is charged to (None: no group),
    and its pod's reflector key ("namespace/name") when the hub knows it."""

    user: str
    server: str
    group: str | None
    amounts: dict = field(default_factory=dict)
    pod: str | None = None

    @classmethod
    def of_pod(cls, user: str, server: str, group: str | None, pod: dict, pod_ref: str | None = None) -> Holding:
        """From the decided pod (input.pod's normalised shape): a missing
        guarantee counts as its limit, as Kubernetes sets it; "no limit" as 0."""
        amounts: dict = {"servers": Decimal(1)}
        for key in SCALAR_KEYS:
            value = pod.get(key)
            if value is None and key in LIMIT_OF:  # no guarantee set: charged its limit, as Kubernetes sets it
                value = pod.get(LIMIT_OF[key])
            amounts[key] = _number(value or 0)
        extra = pod.get("extra_resource_limits") or {}
        amounts["extra_resources"] = {name: _number(n) for name, n in sorted(extra.items()) if n}
        return cls(user, server, group, amounts, pod_ref)

    def to_state(self) -> dict:
        """JSON for the spawner's state, so a restarted hub can rebuild the books."""
        return {"group": self.group, "amounts": _plain(self.amounts)}

    @classmethod
    def from_state(cls, user, server, state: dict, pod_ref: str | None = None) -> Holding:
        """A saved booking; anything but what to_state writes (a group that
        is not a name, amounts that are not finite and 0 to 2^63-1) is a
        ValueError, never a total that crashes a later decision or goes below 0."""
        amounts, group = state["amounts"], state.get("group")
        if not isinstance(amounts, dict) or not isinstance(amounts.get("extra_resources") or {}, dict):
            raise ValueError(f"amounts are not an object of amounts: {amounts!r:.50}")
        extra = amounts.get("extra_resources") or {}
        if group is not None and not isinstance(group, str):
            raise ValueError(f"group is not a name: {group!r:.50}")
        parsed = {key: _amount(amounts.get(key, 0)) for key in ("servers", *SCALAR_KEYS)}
        parsed["extra_resources"] = {str(k): _amount(v) for k, v in extra.items()}
        return cls(user, server, group, parsed, pod_ref)


class Totals:
    """Sums of holdings' amounts."""

    __slots__ = ("amounts",)

    def __init__(self) -> None:
        self.amounts: dict = defaultdict(Decimal)

    def add(self, amounts: dict, sign: int) -> None:
        for key, value in amounts.items():
            if key == "extra_resources":
                for name, n in value.items():
                    self.amounts[("extra", name)] += sign * n
            else:
                self.amounts[key] += sign * value

    def is_empty(self) -> bool:
        return not any(self.amounts.values())

    def as_input(self) -> dict:
        """The totals as in input.usage."""
        doc: dict = {key: 0 for key in ("servers", *SCALAR_KEYS)}
        doc["extra_resources"] = {}
        for key, value in sorted(self.amounts.items(), key=str):
            if isinstance(key, tuple):
                if value:
                    doc["extra_resources"][key[1]] = _json_number(value)
            else:
                doc[key] = _json_number(value)
        return doc


class Ledger:
    def __init__(self) -> None:
        # Keyed by (user, server) as the spawner names them (jhpolicy.spawner: database ids in a hub).
        self.holdings: dict[tuple, Holding] = {}
        # Bookings held until their pod (Holding.pod) is gone: servers whose
        # stop failed, and pods no server's booking names (jhpolicy.hub.reconcile).
        self.orphans: set[tuple] = set()
        # Which booking holds each pod: one pod is booked once, whoever books it.
        self.pods: dict[str, tuple] = {}
        self.users: dict[str, Totals] = defaultdict(Totals)
        self.user_groups: dict[tuple[str, str], Totals] = defaultdict(Totals)
        self.groups: dict[str, Totals] = defaultdict(Totals)
        self.hub = Totals()
        self._deciding = threading.Lock()
        self._totals_lock = threading.Lock()
        # Called before /hub/metrics reads the totals: releases what the
        # cluster no longer holds (the spawner sets it once its pod
        # reflector lists pods), so the gauges follow the cluster even when
        # no server of the hub runs and nothing else reconciles the books.
        self.refresh = None

    def usage(self, user: str, groups: list[str]) -> dict:
        """input.usage for a spawn by `user` in `groups`."""
        with self._totals_lock:
            return {
                "user": self._scope("user", user),
                "user_by_group": {g: self._scope("user_by_group", (user, g)) for g in groups},
                "groups": {g: self._scope("groups", g) for g in groups},
                "hub": self._scope("hub", None),
            }

    def _scope(self, name: str, key) -> dict:
        """One scope's totals in input.usage's shape (none held: zeros)."""
        table = {"user": self.users, "user_by_group": self.user_groups, "groups": self.groups}.get(name)
        totals = self.hub if table is None else table.get(key, None) or Totals()
        return totals.as_input()

    def hold(self, holding: Holding, unless: threading.Event | None = None) -> None:
        """Book a server's values; replaces what the same server held, so
        booking it twice (e.g. on a hub restart) never counts it twice.
        Nothing is booked if `unless` is set (checked under the lock a
        release takes, so a release that follows setting it always wins)."""
        with self._totals_lock:
            if unless is not None and unless.is_set():
                return
            self._book(holding)

    def hold_unnamed(self, holding: Holding) -> bool:
        """Book a pod that no booking names (`holding.pod`), until the pod is
        gone or a server's own booking names it; False if one names it by now."""
        with self._totals_lock:
            if holding.pod is None or holding.pod in self.pods:
                return False
            self._book(holding)
            self.orphans.add((holding.user, holding.server))
            return True

    def unnamed(self, pods) -> list[str]:
        """The keys of `pods` (a reflector's pods) that no booking names."""
        with self._totals_lock:
            return sorted(pods.keys() - self.pods.keys())

    def _book(self, holding: Holding) -> None:
        key = (holding.user, holding.server)
        self._release(*key)
        if holding.pod is not None:
            other = self.pods.get(holding.pod)
            if other is not None:  # the same pod, booked before under another key (unnamed, or a failed stop)
                self._release(*other)
            self.pods[holding.pod] = key
        self.holdings[key] = holding
        self._count(holding, +1)

    def release(self, user: str, server: str) -> Holding | None:
        """Free a server's booking, unless its stop failed and its pod is
        still there (see :meth:`orphan`)."""
        with self._totals_lock:
            if (user, server) in self.orphans:
                return None
            return self._release(user, server)

    def orphan(self, user, server) -> None:
        """A server whose stop failed: keep its booking until its pod is gone."""
        with self._totals_lock:
            holding = self.holdings.get((user, server))
            if holding is not None and holding.pod is not None:
                self.orphans.add((user, server))

    def release_gone(self, pod_exists) -> list[Holding]:
        """Release the bookings held until their pod is gone (see
        :meth:`orphan`, :meth:`hold_unnamed`) whose pod `pod_exists(pod)` says is gone."""
        with self._totals_lock:
            gone = [key for key in self.orphans if not pod_exists(self.holdings[key].pod)]
            return [self._release(*key) for key in gone]

    def _release(self, user: str, server: str) -> Holding | None:
        self.orphans.discard((user, server))
        holding = self.holdings.pop((user, server), None)
        if holding is not None:
            if holding.pod is not None and self.pods.get(holding.pod) == (user, server):
                del self.pods[holding.pod]
            self._count(holding, -1)
        return holding

    def gauges(self) -> list[tuple[str, str, float]]:
        """(group, resource, amount) for /hub/metrics; group "" is the hub."""
        with self._totals_lock:
            return [(group, key[1] if isinstance(key, tuple) else key, float(value))
                    for group, totals in [("", self.hub), *sorted(self.groups.items())]
                    for key, value in sorted(totals.amounts.items(), key=str)]

    def _count(self, holding: Holding, sign: int) -> None:
        scopes = [self.users[holding.user], self.hub]
        if holding.group is not None:
            scopes += [self.user_groups[(holding.user, holding.group)], self.groups[holding.group]]
        for totals in scopes:
            totals.add(holding.amounts, sign)
        # Drop emptied users' entries so the books stay as small as the active
        # set; groups stay, so their usage reads 0 on /hub/metrics.
        for table, key in ((self.users, holding.user), (self.user_groups, (holding.user, holding.group))):
            if key in table and table[key].is_empty():
                del table[key]

    def decision_slot(self, deadline: float) -> _Slot:
        """``with ledger.decision_slot(deadline) as waited:`` read the usage,
        decide and book with no other decision in between. Call it on a
        thread that may block; not getting the slot by `deadline`
        (time.monotonic()) raises :class:`Busy`."""
        return _Slot(self._deciding, deadline)


class Busy(Exception):
    """No decision slot before the deadline: earlier decisions hold it."""


class _Slot:
    def __init__(self, lock: threading.Lock, deadline: float) -> None:
        self.lock, self.deadline = lock, deadline

    def __enter__(self) -> float:
        """How long this waited for earlier decisions: 0.0 only when none
        held the slot (however long a busy machine took to hand it over)."""
        if self.lock.acquire(blocking=False):
            return 0.0
        started = time.monotonic()
        if not self.lock.acquire(timeout=max(self.deadline - started, 0)):
            raise Busy()
        return max(time.monotonic() - started, 1e-6)

    def __exit__(self, *exc) -> None:
        self.lock.release()


def for_hub(hub) -> Ledger:
    """The hub's ledger. Spawners of one hub share its `hub` object; an
    offline check or a test with its own hub object gets its own books."""
    ledger = getattr(hub, "_jhpolicy_ledger", None)
    if ledger is None:
        ledger = Ledger()
        hub._jhpolicy_ledger = ledger
        metrics.watch(ledger)
    return ledger


def _number(value) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError(f"not an amount: {value!r:.50}")
    return Decimal(str(value))


# Kubernetes quantities are 64-bit integers: anything larger is not an amount a pod holds.
MAX_AMOUNT = Decimal(2**63 - 1)


def _amount(value) -> Decimal:
    amount = _number(value)
    if not amount.is_finite() or not 0 <= amount <= MAX_AMOUNT:
        raise ValueError(f"not an amount from 0 to 2^63-1: {value!r:.50}")
    return amount


def _json_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _plain(amounts: dict) -> dict:
    return {k: ({n: _json_number(v) for n, v in a.items()} if isinstance(a, dict) else _json_number(a))
            for k, a in amounts.items()}
