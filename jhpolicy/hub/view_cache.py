"""Allowance views kept for a few seconds (`policy_view_cache_seconds`).

The spawn page and the allowance endpoint ask OPA for the same view each
time a user loads them. A view is a function of the policy, its data and
the input alone (the shipped policy reads no clock and makes no calls), and
the input carries everything in the hub the view depends on: the user,
their groups and the groups' properties, who asks, the pod each of the
page's candidates would give, and the usage read from the books. So a view
is kept under its whole input: a server that starts or stops changes the
usage, and with it the key.

What a key cannot see is a change to the policy or its data inside OPA: a
kept view may then show the old allowance for at most the configured
seconds; so may a view rule of the admin's own that reads the clock.
Nothing is granted from here. Only what the page and the endpoint show is
kept; a spawn's decision is always OPA's answer to its own query
(PolicyKubeSpawner._decide), so a stale page can offer a choice whose spawn
is then refused, with the policy's message, or leave out one now allowed,
but it never grants anything. An answer that could not be had (OPA down, a
broken view) is not kept.
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
from collections import OrderedDict

# About 2-5 KB a view: a few MB at most, for a hub whose users load pages at once.
MAX_KEPT_VIEWS = 1024


def key(opa_url: str, token: str, path: str, input_doc: dict) -> str:
    """What a view is kept under: the OPA it came from and the token it was
    asked with (an OPA that refuses another token must be asked), the rule,
    and the whole input, in a form where key order does not matter. Hashed:
    the token is not kept in the clear."""
    text = json.dumps([opa_url, token, path, input_doc], sort_keys=True, separators=(",", ":"), default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


class ViewCache:
    """Views by key, each until its own expiry; the least recently used goes
    first beyond `max_entries`. Views go in and out as copies, because the
    page takes its candidates' judgements out of the view it gets."""

    def __init__(self, max_entries: int = MAX_KEPT_VIEWS, clock=time.monotonic) -> None:
        self.max_entries = max_entries
        self.clock = clock
        self._views: OrderedDict[str, tuple[float, dict]] = OrderedDict()

    def get(self, view_key: str) -> dict | None:
        kept = self._views.get(view_key)
        if kept is None:
            return None
        expires, view = kept
        if self.clock() >= expires:
            del self._views[view_key]
            return None
        self._views.move_to_end(view_key)
        return copy.deepcopy(view)

    def put(self, view_key: str, view: dict, seconds: float) -> None:
        if seconds <= 0:
            return
        self._views[view_key] = (self.clock() + seconds, copy.deepcopy(view))
        self._views.move_to_end(view_key)
        while len(self._views) > self.max_entries:
            self._views.popitem(last=False)

    def clear(self) -> None:
        self._views.clear()

    def __len__(self) -> int:
        return len(self._views)


# The hub's views: one process, every spawner (keys name their OPA and rule).
VIEWS = ViewCache()
