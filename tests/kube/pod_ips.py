"""Stand-in single-user servers at the pod IPs kwok hands out.

kwok marks pods Running with an IP from 127.200.0.0/24 but runs no
containers, so JupyterHub's readiness check and proxy would find nothing at
``http://127.200.0.N:8888``. This answers every path there with 200, on
loopback addresses only.
"""

from __future__ import annotations

import asyncio
import ipaddress
import threading

from .cluster import POD_CIDR

PORT = 8888


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
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
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
        future = asyncio.run_coroutine_threadsafe(asyncio.start_server(_answer, hosts, PORT), self.loop)
        self.server = future.result(30)
        return self

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
