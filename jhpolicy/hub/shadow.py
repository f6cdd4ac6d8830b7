"""Shadow rollouts: a candidate policy decides beside the live one, never applied.

After the live decision, the same input goes to a second decision path
(`opa_shadow_decision_path`, e.g. a stricter candidate in the same bundle).
The spawn does not wait for it: the shadow's answer is compared with the live
one on jhpolicy's OPA threads, and each comparison is counted on /hub/metrics;
a disagreement is logged with both decision ids, so an admin sees exactly
which spawns the candidate would change before switching to it. A broken or
slow candidate only ever shows as an "error" outcome there.
"""

from __future__ import annotations

import json
import logging
import threading
from concurrent.futures import Future
from dataclasses import dataclass

from prometheus_client import Counter

from ..core.decision import Decision, PolicyBroken, validate
from ..core.decision import outcome_of as outcome_of_spawn
from ..core.pod import InvalidPod, decided
from .opa_http import OPA, PolicyUnavailable

# A candidate that hangs must not pile up queries on jhpolicy's OPA threads,
# where the live decisions run: beyond this many unanswered, a spawn's
# comparison is skipped (counted as shadow="skipped").
MAX_IN_FLIGHT = 20
_in_flight = 0
_lock = threading.Lock()


def admit() -> bool:
    """Reserve a place for one more shadow query, if there is one."""
    global _in_flight
    with _lock:
        if _in_flight >= MAX_IN_FLIGHT:
            return False
        _in_flight += 1
        return True


def _release() -> None:
    global _in_flight
    with _lock:
        _in_flight -= 1


SHADOW_DECISIONS = Counter(
    "jhpolicy_shadow_decisions",
    "Shadow (candidate) decisions by live and shadow outcome, and whether the decided pods agree",
    ["live", "shadow", "agree"],
)


@dataclass(frozen=True)
class Outcome:
    """What a decision does to a spawn: allowed, clamped, denied (or error, for a shadow)."""

    name: str
    pod: dict | None = None  # the decided values, when allowed
    messages: tuple[str, ...] = ()

    def same_as(self, other: "Outcome") -> bool:
        """The same effect on the spawn: outcome and decided pod (messages may be worded differently)."""
        return self.name == other.name and self.pod == other.pod

    def describe(self) -> str:
        if self.pod is None:
            return f"{self.name} {json.dumps(list(self.messages))}"
        # The decided values are JSON (from OPA, or made so by pod.prospective), keyed in sorted order.
        return f"{self.name} {json.dumps(self.pod)}"


def outcome_of(decision: Decision, pod_values: dict, pod_sources: dict | None = None) -> Outcome:
    """The outcome of a contract-checked decision on the pod it was asked about."""
    if not decision.allow:
        return Outcome("denied", messages=tuple(decision.messages))
    final = decided(pod_values, decision.overrides, pod_sources)
    return Outcome(outcome_of_spawn(decision, pod_values, final), pod=final)


def start(opa: OPA, path: str, input_doc: dict, pod, decision: Decision, decision_id: str | None, ceiling,
          who: str, log: logging.Logger) -> Comparison | None:
    """Ask the candidate policy at `path` about the spawn the live one
    decided, without waiting for it; None when too many are in flight."""
    live = outcome_of(decision, pod.values, pod.sources)
    if not admit():
        SHADOW_DECISIONS.labels(live=live.name, shadow="skipped", agree="unknown").inc()
        return None
    comparison = Comparison(live, decision_id, pod.values, ceiling, who, log, input_doc["user"]["groups"], pod.sources)
    opa.submit(path, input_doc, lane="shadow").add_done_callback(comparison.finish)
    return comparison


class Comparison:
    """One spawn's live outcome, waiting for the shadow's answer."""

    def __init__(self, live: Outcome, live_id: str | None, pod_values: dict, ceiling, who: str, log: logging.Logger,
                 groups: list[str] = (), pod_sources: dict | None = None):
        self.live, self.live_id = live, live_id
        self.pod_values, self.pod_sources, self.ceiling, self.groups = pod_values, pod_sources, ceiling, groups
        self.who, self.log = who, log
        self.shadow: Outcome | None = None
        self.agree: bool | None = None
        self.done = threading.Event()  # set once the shadow's answer was compared

    def finish(self, future: Future) -> None:
        """Done-callback of the shadow query (runs on one of jhpolicy's OPA threads); never raises."""
        _release()
        shadow_id = None
        try:
            response = future.result()
            shadow_id = response.decision_id
            self.shadow = outcome_of(validate(response.result, self.ceiling, self.groups), self.pod_values, self.pod_sources)
        except (PolicyUnavailable, PolicyBroken, InvalidPod) as e:
            self.shadow = Outcome("error", messages=(str(e),))
        except Exception as e:  # a shadow must never hurt the hub
            self.shadow = Outcome("error", messages=(type(e).__name__,))
        try:
            self.agree = self.shadow.same_as(self.live)
            SHADOW_DECISIONS.labels(live=self.live.name, shadow=self.shadow.name, agree=str(self.agree).lower()).inc()
            if not self.agree:
                self.log.warning(
                    "jhpolicy shadow disagrees %s decision_id=%s shadow_decision_id=%s live=%s shadow=%s",
                    self.who, self.live_id or "-", shadow_id or "-", self.live.describe(), self.shadow.describe(),
                )
        finally:
            self.done.set()
