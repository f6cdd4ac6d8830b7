"""``GET /hub/api/jhpolicy/allowance[/users/{name}]``: the allowance view as JSON.

A user reads their own (``/hub/api/jhpolicy/allowance``, or their own name).
Reading another user's needs ``admin:users`` (JupyterHub admins have it) or
the custom scope ``custom:jhpolicy:allowance:read`` (for a service such as a
course orchestrator); without it the answer is 404, as for a user that does
not exist, so the endpoint does not tell who has an account.

The handler runs in the hub, because the view reads the hub's own books of
what is in use; it is added with ``JupyterHub.extra_handlers``, which
JupyterHub 3.1+ marks deprecated in favour of services, but a service cannot
read those books. ``configure(c)`` registers it and the custom scope.
"""

from __future__ import annotations

import json

from jupyterhub.apihandlers.base import APIHandler
from jupyterhub.user import User
from tornado import web

READ_SCOPE = "custom:jhpolicy:allowance:read"
CUSTOM_SCOPES = {READ_SCOPE: {"description": "Read any user's jhpolicy allowance view (what they may launch, quota use)."}}


class AllowanceAPIHandler(APIHandler):
    async def get(self, name: str | None = None):
        current = self.current_user
        if current is None:
            raise web.HTTPError(403, "authentication required")
        own_name = current.name if isinstance(current, User) else None  # a service has no view of its own
        name = name or own_name
        if name is None:
            raise web.HTTPError(400, "a service must name the user: /hub/api/jhpolicy/allowance/users/{name}")
        if name != own_name and not ({"admin:users", READ_SCOPE} & set(self.expanded_scopes)):
            raise web.HTTPError(404, "no such user")
        user = self.find_user(name)
        if user is None:
            raise web.HTTPError(404, "no such user")
        spawner = user.get_spawner("", replace_failed=True)
        view = getattr(spawner, "allowance_view", None)
        if view is None:
            raise web.HTTPError(404, "this hub's spawner is not jhpolicy's PolicyKubeSpawner")
        self.set_header("Content-Type", "application/json")
        self.write(json.dumps({"user": user.name, **(await view())}))


HANDLERS = [
    (r"/api/jhpolicy/allowance", AllowanceAPIHandler),
    (r"/api/jhpolicy/allowance/users/([^/]+)", AllowanceAPIHandler),
]


def configure(c) -> None:
    """Register the endpoint and its scope in a JupyterHub config ``c``."""
    c.JupyterHub.extra_handlers = [*c.JupyterHub.get("extra_handlers", []), *HANDLERS]
    c.JupyterHub.custom_scopes = {**c.JupyterHub.get("custom_scopes", {}), **CUSTOM_SCOPES}
