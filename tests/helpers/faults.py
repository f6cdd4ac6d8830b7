"""A small fault-injecting HTTP server that stands in front of a real OPA.

With no fault set it forwards every request to OPA. A fault replaces the
answer: an HTTP status, a body that breaks the contract, a slow answer, a
connection that is accepted and never answered. It runs on loopback in its
own thread with its own event loop; every test that sets a fault clears it.
"""

from __future__ import annotations

import asyncio
import threading

import httpx

from jhpolicy.tooling.local_opa import free_port

HUGE_BYTES = 50 * 1024 * 1024

# name -> (status, body) for faults that are a fixed answer.
ANSWERS = {
    "http_500": (500, b'{"code": "internal_error"}'),
    "http_401": (401, b'{"code": "unauthorized", "message": "missing or invalid token"}'),
    "http_403": (403, b'{"code": "forbidden"}'),
    "invalid_json": (200, b'{"result": {"allow": tru'),
    "empty_body": (200, b""),
    "undefined": (200, b"{}"),
    "allow_missing": (200, b'{"result": {"overrides": {}, "messages": []}}'),
    "allow_not_bool": (200, b'{"result": {"allow": "true", "overrides": {}, "messages": []}}'),
    "overrides_not_map": (200, b'{"result": {"allow": true, "overrides": [["cpu_limit", 64]], "messages": []}}'),
    "wrong_type_value": (200, b'{"result": {"allow": true, "overrides": {"cpu_limit": "lots"}, "messages": []}}'),
    "outside_ceiling": (200, b'{"result": {"allow": true, "overrides": {"privileged": true}, "messages": []}}'),
    "http_502_long": (502, b"<html>" + b"x" * 400 + b"</html>"),
}
FAULTS = [*ANSWERS, "huge_body", "slow", "hang", "close"]


class FaultServer:
    def __init__(self, upstream: str, slow_seconds: float = 30.0):
        self.upstream = upstream
        self.slow_seconds = slow_seconds
        self.fault: str | None = None
        self.times: int | None = None
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.requests = 0
        self.in_flight = 0
        self.connections = 0
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "FaultServer":
        self._thread.start()
        self._started.wait(10)
        return self

    def stop(self) -> None:
        async def shutdown():
            self._server.close()
            pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            await self._client.aclose()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def _run(self):
        asyncio.set_event_loop(self._loop)
        self._client = httpx.AsyncClient(base_url=self.upstream, trust_env=False)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", self.port))
        self._started.set()
        self._loop.run_forever()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.connections += 1
        try:
            while True:
                request = await self._read_request(reader)
                if request is None:
                    break
                self.requests += 1
                fault = self._take_fault()
                if fault == "close":
                    break  # read the request, closed the connection without an answer
                self.in_flight += 1
                try:
                    if fault == "hang":
                        await reader.read()  # accepted, never answered: waits until the client gives up
                        break
                    if fault == "slow":
                        await asyncio.sleep(self.slow_seconds)
                finally:
                    self.in_flight -= 1
                if fault in ANSWERS:
                    status, body = ANSWERS[fault]
                elif fault == "huge_body":
                    status, body = 200, b'{"result": {"allow": true, "pad": "' + b"x" * HUGE_BYTES + b'"}}'
                else:
                    status, body = await self._forward(*request)
                writer.write(
                    f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _read_request(self, reader):
        head = await reader.readuntil(b"\r\n\r\n") if not reader.at_eof() else b""
        if not head:
            return None
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
        length = int(headers.get("Content-Length", headers.get("content-length", "0")))
        body = await reader.readexactly(length) if length else b""
        auth = headers.get("Authorization") or headers.get("authorization")
        return method, path, body, auth

    async def _forward(self, method, path, body, auth):
        headers = {"Content-Type": "application/json"}
        if auth:
            headers["Authorization"] = auth
        response = await self._client.request(method, path, content=body, headers=headers)
        return response.status_code, response.content

    def set(self, fault: str | None, times: int | None = None) -> None:
        """Inject ``fault`` into every request, or into the next ``times`` only."""
        assert fault is None or fault in FAULTS, fault
        self.fault, self.times = fault, times

    def _take_fault(self) -> str | None:
        fault = self.fault
        if fault is not None and self.times is not None:
            self.times -= 1
            if self.times <= 0:
                self.fault = None
        return fault
