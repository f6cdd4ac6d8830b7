"""Ask OPA for a decision over HTTP.

Each query is one blocking request on one of jhpolicy's own threads
(:meth:`OPA.submit`), and the hub awaits its result without a timeout of its
own. The hub's event loop is busy during a burst of spawns (tokens,
database, proxy routes), and a timeout measured there expires while OPA's
answer sits unread: spawns would fail closed because the hub was busy, not
because OPA was. On these threads, `opa_timeout` measures OPA alone.

Blocking requests on threads rather than an asyncio client on a thread of
its own: measured side by side on the project's 2-core machine
(2026-11-27), a blocking ``httpx.Client`` request handed to a thread took
2.26 ms at the median where an ``httpx.AsyncClient`` request took 2.86 ms
from the caller's own loop (the async client's machinery is the
difference), so the hand-over costs less than it saves.

One pooled ``httpx.Client`` and one pool of `max_connections` threads per
OPA address serve every spawner: a new connection per spawn would cost a TCP
handshake each time. Every failure becomes :class:`PolicyUnavailable`, whose
text is for the hub log only.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import threading
import time
from dataclasses import dataclass

import httpx

from ..core.opa_input import finite


class PolicyUnavailable(Exception):
    """OPA could not give a usable answer. The text is for the hub log, not the user."""


class NotAsked(PolicyUnavailable):
    """`opa_timeout` ran out before OPA was asked: the check waited that long
    in the hub (for one of jhpolicy's threads, behind a burst of spawns), so
    OPA may be answering every query it gets. Never a reason for the
    defaults (`policy_failure_mode`): they would start servers no policy
    checked exactly when a burst is being decided."""


@dataclass(frozen=True)
class OPAResponse:
    result: object
    decision_id: str | None


@dataclass(frozen=True)
class Limits:
    """How long a query may take (retries included), how often a refused
    connection is retried, and how large an answer may be."""

    timeout: float
    retries: int
    max_response_bytes: int


@dataclass
class _Pool:
    client: httpx.Client
    threads: concurrent.futures.ThreadPoolExecutor


_pools: dict[tuple, _Pool] = {}
_pools_lock = threading.Lock()


def _forget_pools() -> None:
    # A forked child has the parent's pools but not their threads: a query
    # sent there would wait forever. Start afresh on first use.
    global _pools_lock
    _pools.clear()
    _pools_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_pools)


def _pool(base_url: str, token: str | None, max_connections: int, lane: str) -> _Pool:
    key = (base_url, token, max_connections, lane)
    with _pools_lock:
        pool = _pools.get(key)
        if pool is None or pool.client.is_closed:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            client = httpx.Client(
                base_url=base_url,
                headers=headers,
                limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
                # Proxies configured for the hub's outbound traffic must not see
                # policy queries to a sidecar on localhost.
                trust_env=False,
            )
            threads = concurrent.futures.ThreadPoolExecutor(max_connections, thread_name_prefix="jhpolicy-opa")
            pool = _pools[key] = _Pool(client, threads)
    return pool


@dataclass(frozen=True)
class OPA:
    """An OPA server as the spawner's traits name it (PolicySettings.opa):
    the settings every query to it needs, given once."""

    url: str
    token: str | None
    max_connections: int
    limits: Limits

    def run(self, work, lane: str = "live") -> concurrent.futures.Future:
        """Run ``work(client)`` on one of the lane's threads, e.g. a query and
        what must happen with no other decision in between (jhpolicy.hub.ledger).
        Each `lane` has its own threads and connections, so queries to a
        shadow policy that hang never hold up live decisions."""
        pool = _pool(self.url, self.token, self.max_connections, lane)
        return pool.threads.submit(work, pool.client)

    def submit(self, path: str, input_doc: dict, lane: str = "live") -> concurrent.futures.Future:
        """Start a query on jhpolicy's threads; the future holds the OPAResponse."""
        deadline = time.monotonic() + self.limits.timeout
        return self.run(lambda client: query(client, path, input_doc, self.limits, deadline), lane)

    async def ask(self, path: str, input_doc: dict) -> OPAResponse:
        """Query OPA on jhpolicy's threads; await the answer on the caller's loop."""
        return await asyncio.wrap_future(self.submit(path, input_doc))


async def close_clients() -> None:
    """Close the pooled clients and their threads (for short-lived processes and tests)."""
    with _pools_lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        pool.client.close()
        pool.threads.shutdown(wait=False)


def query(client: httpx.Client, path: str, input_doc: dict, limits: Limits, deadline: float) -> OPAResponse:
    """POST ``{"input": input_doc}`` to ``/v1/data/{path}``; all attempts end by
    `deadline` (time.monotonic(): ``limits.timeout`` after the query was
    submitted, so time spent queued for a thread counts).

    A retry happens only after a connection failure (OPA restarting), never
    after OPA answered, and only while time is left.
    """
    url = "/v1/data/" + path.strip("/").replace(".", "/")
    body = _json_body(input_doc)
    timeout, max_bytes = limits.timeout, limits.max_response_bytes
    attempt = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 and attempt == 0:
            raise NotAsked(f"opa_timeout ({timeout} s) ran out before OPA was asked: the check was queued in the hub that long")
        if remaining <= 0:
            raise PolicyUnavailable(f"OPA did not answer within {timeout}s")
        try:
            return _post(client, url, body, deadline, max_bytes)
        except (httpx.ConnectError, httpx.RemoteProtocolError) as e:
            attempt += 1
            if attempt > limits.retries:
                raise PolicyUnavailable(f"cannot reach OPA at {client.base_url}: {type(e).__name__}") from None
        except httpx.TimeoutException:
            raise PolicyUnavailable(f"OPA did not answer within {timeout}s") from None
        except httpx.HTTPError as e:
            # Only the type: an exception's text can quote the request's
            # headers, and with them the bearer token.
            raise PolicyUnavailable(f"HTTP error talking to OPA: {type(e).__name__}") from None


def _json_body(input_doc: dict) -> bytes:
    try:
        return json.dumps({"input": input_doc}, allow_nan=False).encode()
    except ValueError:
        # A non-finite number from somewhere jhpolicy did not clean (e.g.
        # auth_state): as text, for the policy to refuse, never a crash.
        return json.dumps({"input": finite(input_doc)}, allow_nan=False).encode()


def _post(client: httpx.Client, url: str, body: bytes, deadline: float, max_response_bytes: int) -> OPAResponse:
    headers = {"Content-Type": "application/json"}
    with client.stream("POST", url, content=body, headers=headers, timeout=deadline - time.monotonic()) as response:
        chunks = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > max_response_bytes:
                raise PolicyUnavailable(f"OPA's answer is larger than {max_response_bytes} bytes")
            # Each read has its own timeout: an answer trickling in stops at the deadline.
            if time.monotonic() > deadline:
                raise httpx.ReadTimeout("the answer did not arrive within the deadline")
            chunks.append(chunk)
    raw = b"".join(chunks)
    if response.status_code != 200:
        raise PolicyUnavailable(f"OPA answered HTTP {response.status_code}: {raw[:300]!r}")
    try:
        doc = json.loads(raw)
    except ValueError as e:
        raise PolicyUnavailable(f"OPA's answer is not JSON: {raw[:300]!r}") from e
    if not isinstance(doc, dict) or "result" not in doc:
        # OPA answers 200 with {} when the decision path is undefined.
        raise PolicyUnavailable(f"OPA has no decision at {url} (undefined): {raw[:300]!r}")
    decision_id = doc.get("decision_id")
    return OPAResponse(result=doc["result"], decision_id=decision_id if isinstance(decision_id, str) else None)
