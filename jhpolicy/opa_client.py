"""Ask OPA for a decision over HTTP.

Queries run on one background thread with its own event loop (:func:`ask`).
The hub's event loop is busy during a burst of spawns (tokens, database,
proxy routes), and a timeout measured there expires while OPA's answer sits
unread: spawns would fail closed because the hub was busy, not because OPA
was. On the I/O thread, `opa_timeout` measures OPA alone; the hub awaits the
result without a timeout of its own.

One pooled ``httpx.AsyncClient`` per OPA address serves every spawner: a new
connection per spawn would cost a TCP handshake each time. Every failure
becomes :class:`PolicyUnavailable`, whose text is for the hub log only.
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


class PolicyUnavailable(Exception):
    """OPA could not give a usable answer. The text is for the hub log, not the user."""


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


_clients: dict[tuple, httpx.AsyncClient] = {}
_io_loop: asyncio.AbstractEventLoop | None = None
_io_lock = threading.Lock()


def _forget_io_thread() -> None:
    # A forked child has the parent's loop object but not its thread: a
    # query sent there would wait forever. Start afresh on first use.
    global _io_loop, _io_lock
    _io_loop = None
    _io_lock = threading.Lock()
    _clients.clear()


os.register_at_fork(after_in_child=_forget_io_thread)


def io_loop() -> asyncio.AbstractEventLoop:
    """The event loop of jhpolicy's I/O thread, started on first use."""
    global _io_loop
    with _io_lock:
        if _io_loop is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="jhpolicy-opa-io", daemon=True).start()
            _io_loop = loop
    return _io_loop


def submit(
    base_url: str, token: str | None, max_connections: int, path: str, input_doc: dict, limits: Limits
) -> concurrent.futures.Future:
    """Start a query on the I/O thread; the future holds the OPAResponse."""

    async def on_io_thread():
        return await query(_client(base_url, token, max_connections), path, input_doc, limits)

    return asyncio.run_coroutine_threadsafe(on_io_thread(), io_loop())


async def ask(
    base_url: str, token: str | None, max_connections: int, path: str, input_doc: dict, limits: Limits
) -> OPAResponse:
    """Query OPA from the I/O thread; await the answer on the caller's loop."""
    return await asyncio.wrap_future(submit(base_url, token, max_connections, path, input_doc, limits))


def _client(base_url: str, token: str | None, max_connections: int) -> httpx.AsyncClient:
    """The pooled client for this OPA; only ever used on the I/O thread."""
    key = (base_url, token, max_connections)
    client = _clients.get(key)
    if client is None or client.is_closed:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        client = httpx.AsyncClient(
            base_url=base_url,
            headers=headers,
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            # Proxies configured for the hub's outbound traffic must not see
            # policy queries to a sidecar on localhost.
            trust_env=False,
        )
        _clients[key] = client
    return client


async def close_clients() -> None:
    """Close the pooled clients (for short-lived processes and tests)."""

    async def close():
        for key in list(_clients):
            await _clients.pop(key).aclose()

    if _io_loop is not None:
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(close(), _io_loop))


async def query(client: httpx.AsyncClient, path: str, input_doc: dict, limits: Limits) -> OPAResponse:
    """POST ``{"input": input_doc}`` to ``/v1/data/{path}``; all attempts share ``limits.timeout``.

    A retry happens only after a connection failure (OPA restarting), never
    after OPA answered, and only while time is left.
    """
    url = "/v1/data/" + path.strip("/").replace(".", "/")
    body = json.dumps({"input": input_doc}, allow_nan=False).encode()
    timeout, max_bytes = limits.timeout, limits.max_response_bytes
    deadline = time.monotonic() + timeout
    attempt = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise PolicyUnavailable(f"OPA did not answer within {timeout}s")
        try:
            return await asyncio.wait_for(_post(client, url, body, remaining, max_bytes), remaining)
        except (httpx.ConnectError, httpx.RemoteProtocolError) as e:
            attempt += 1
            if attempt > limits.retries:
                raise PolicyUnavailable(f"cannot reach OPA at {client.base_url}: {type(e).__name__}") from None
        except (httpx.TimeoutException, asyncio.TimeoutError):
            raise PolicyUnavailable(f"OPA did not answer within {timeout}s") from None
        except httpx.HTTPError as e:
            # Only the type: an exception's text can quote the request's
            # headers, and with them the bearer token.
            raise PolicyUnavailable(f"HTTP error talking to OPA: {type(e).__name__}") from None


async def _post(client, url, body, timeout, max_response_bytes) -> OPAResponse:
    headers = {"Content-Type": "application/json"}
    async with client.stream("POST", url, content=body, headers=headers, timeout=timeout) as response:
        chunks = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > max_response_bytes:
                raise PolicyUnavailable(f"OPA's answer is larger than {max_response_bytes} bytes")
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
