"""Waiting on a process the tests started: a condition polled until it
holds or a deadline passes, and whether an address answers 200. The
deadline only bounds a broken run; nothing waits a fixed time."""

from __future__ import annotations

import time

import httpx

DEADLINE = 120  # seconds: far above any poll interval here; only a broken run gets near it


def wait_for(condition, what: str, timeout: float = DEADLINE):
    """condition()'s first truthy value; AssertionError naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def answers(url: str, **kwargs) -> bool:
    """GET `url` answers 200 (False while nothing listens there)."""
    try:
        return httpx.get(url, timeout=2, trust_env=False, **kwargs).status_code == 200
    except httpx.TransportError:
        return False
