"""A refusal is not a failure: keep policy refusals out of JupyterHub 5's
consecutive spawn failure count.

`c.Spawner.consecutive_failure_limit` (Zero to JupyterHub sets 5) makes the
hub exit after that many failed spawns in a row, to recover from a broken
spawner by restarting. JupyterHub 6 counts only errors there (a
``SpawnException`` or an ``HTTPError`` below 500 is a handled rejection).
JupyterHub 5 counts every exception: five policy refusals in a row (five
students asking for a forbidden image, a burst against a full quota) would
take the hub down for everyone.

On JupyterHub 5 the handler adds its counting callback, `_track_failure_count`,
to the spawn's future (``spawner._spawn_future``) before the spawn starts
running, so when ``load_user_options`` runs it is there to wrap. The wrapper
lets a refusal (jhpolicy's 400 or 403) go through JupyterHub's own callback
with the limit off and the count as it was: the spawn metric records the
failure, the count neither grows nor resets, the hub never aborts on it.
Every other outcome (a pod that never starts, jhpolicy's 503) is counted by
JupyterHub's callback exactly as before.
"""

from __future__ import annotations

from . import upstream

TRACKER_NAME = "_track_failure_count"


def is_refusal(error: BaseException | None) -> bool:
    """jhpolicy's 400s and 403s (see jhpolicy.hub.errors.spawn_error)."""
    return bool(getattr(error, "jhpolicy_refusal", False))


def exempt_refusals(spawner) -> bool:
    """Wrap JupyterHub 5's failure counting for this spawn; True if it did
    (or already had). Nothing to do where the hub has no such callback."""
    future = upstream.spawn_future(spawner)
    if future is None:
        return False
    if getattr(future, "_jhpolicy_refusals_exempt", False):
        return True
    tracker = next((cb for cb in upstream.done_callbacks(future) if getattr(cb, "__name__", "") == TRACKER_NAME), None)
    handler = getattr(spawner, "handler", None)
    if tracker is None or handler is None:
        return False

    def track_failure_count(f):
        error = None if f.cancelled() else f.exception()
        if not is_refusal(error):
            tracker(f)
            return
        limit, count = spawner.consecutive_failure_limit, upstream.failure_count(handler)
        spawner.consecutive_failure_limit = 0
        try:
            tracker(f)
        finally:
            spawner.consecutive_failure_limit = limit
            upstream.set_failure_count(handler, count)

    future.remove_done_callback(tracker)
    future.add_done_callback(track_failure_count)
    future._jhpolicy_refusals_exempt = True
    return True
