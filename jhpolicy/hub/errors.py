"""The HTTP errors a refused spawn raises.

JupyterHub 6 has ``SpawnException``, which carries a status code and a
user-facing message to both the REST API and the spawn page and is counted as
a failure with a reason in JupyterHub's metrics. JupyterHub 5 relays a
``web.HTTPError`` raised inside ``slow_spawn_timeout`` to the caller as it is.
"""

from __future__ import annotations

import html

from tornado import web

try:
    from jupyterhub.spawner import SpawnException
except ImportError:  # JupyterHub < 6
    SpawnException = None

UNAVAILABLE_MESSAGE = "spawn policy unavailable: the server was not started; try again later or ask your hub admin"


class InvalidHTTPError(web.HTTPError, ValueError):
    """A malformed request (400) on JupyterHub 5: also the ValueError
    KubeSpawner raises for one, so code written for KubeSpawner catches it."""


if SpawnException is not None:

    class InvalidSpawnException(SpawnException, ValueError):
        """A malformed request (400) on JupyterHub 6: also a ValueError, as above."""

else:
    InvalidSpawnException = None


def spawn_error(status: int, message: str, reason: str, invalid: bool = False, message_html: str | None = None) -> web.HTTPError:
    if SpawnException is not None:
        error = (InvalidSpawnException if invalid else SpawnException)(
            message, reason=reason, status_code=status, message_html=message_html or "",
        )
    else:
        # JupyterHub 5 renders log_message % args; given no args, tornado
        # escapes a '%' (which a policy message may contain) for that.
        error = (InvalidHTTPError if invalid else web.HTTPError)(status, message)
    # What the spawn page and the API show, instead of the exception's repr.
    error.jupyterhub_message = message
    if message_html:
        # What JupyterHub's format_exception reads for the spawn form's
        # error, the spawn-pending page and the progress stream's failed
        # event (SpawnException.message_html alone reaches only error pages).
        error.jupyterhub_html_message = message_html
    # The caller's request or the policy said no: not a failure of the hub
    # (see jhpolicy.hub.failure_count).
    error.jhpolicy_refusal = status < 500
    return error


def invalid_request(message: str) -> web.HTTPError:
    return spawn_error(400, f"Invalid spawn request: {message}", "invalid", invalid=True)


# What every 403 from the policy starts with (cases.py strips it to compare).
REFUSAL_PREFIX = "Spawn refused by policy: "


def denied(messages: list[str], reason: str = "denied", help: dict | None = None) -> web.HTTPError:
    """403. `reason` labels the refusal in JupyterHub 6's spawn metrics
    (image, profile, limit, quota, invalid, misconfigured); `help` is how to
    get more ({"text", "url"}), a link on the spawn page (JupyterHub 6)."""
    text = "; ".join(messages) if messages else "the spawn policy does not allow this request"
    message = f"{REFUSAL_PREFIX}{text}"
    if not help:
        return spawn_error(403, message, reason)
    url = help.get("url")
    more = html.escape(help["text"])
    link = f'<a href="{html.escape(url)}">{more}</a>' if url else more
    return spawn_error(403, f"{message}. {help['text']}" + (f": {url}" if url else ""), reason,
                       message_html=f"{html.escape(message)}. {link}")


def unavailable() -> web.HTTPError:
    return spawn_error(503, UNAVAILABLE_MESSAGE, "unavailable")


def misconfigured(problem: str) -> web.HTTPError:
    """503: the hub's own configuration cannot be judged (see
    request.check_profile_list); the admin has to fix it, the user is told so."""
    return spawn_error(503, f"{UNAVAILABLE_MESSAGE} (the hub's configuration: {problem})", "misconfigured")


def message_of(error: web.HTTPError) -> str:
    """The text a caller sees for an error raised by :func:`spawn_error`."""
    if SpawnException is not None and isinstance(error, SpawnException):
        return error.message
    return error.log_message % error.args if error.log_message else str(error)
