"""Stand-in single-user servers at the pod IPs kwok hands out.

kwok marks pods Running with an IP from 127.200.0.0/24 but runs no
containers, so JupyterHub's readiness check and proxy would find nothing at
``http://127.200.0.N:{port}``. This answers every path there with 200, on
loopback addresses only, on one free port (the hub's KubeSpawner.port).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import threading

from .cluster import POD_CIDR

HELD = threading.Event()  # set: answer 503, which JupyterHub's readiness check waits out


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if length:
                await reader.readexactly(length)
            body = b'{"stand_in_for": "a single-user server"}'
            status = b"503 Service Unavailable" if HELD.is_set() else b"200 OK"
            writer.write(b"HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (status, len(body), body))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


class PodIPs:
    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="pod-ips", daemon=True)

    def start(self) -> "PodIPs":
        self.thread.start()
        hosts = [str(ip) for ip in ipaddress.ip_network(POD_CIDR).hosts()]
        with socket.socket() as probe:
            probe.bind((hosts[0], 0))
            self.port = probe.getsockname()[1]
        future = asyncio.run_coroutine_threadsafe(asyncio.start_server(_answer, hosts, self.port), self.loop)
        self.server = future.result(30)
        return self

    def hold(self) -> None:
        """Keep every server not ready (its spawn pending) until release()."""
        HELD.set()

    def release(self) -> None:
        HELD.clear()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
