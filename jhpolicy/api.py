"""``GET /hub/api/jhpolicy/allowance[/users/{name}]``: the allowance view as JSON.

Reading a user's view needs, on that user, ``read:servers`` (what the
default ``user`` role grants everyone for themselves, ``servers`` and
``admin:servers`` imply), ``admin:users``, or the custom scope
``custom:jhpolicy:allowance:read`` (for a service that should read views and
nothing else). Filters are honoured as
JupyterHub honours them (``admin:users!group=students`` reads students'),
by JupyterHub's own ``scopes.has_scope``, as its ``@needs_scope`` does. A
token with neither scope is 403; one with a filter that does not cover the
user is 404, as for a user that does not exist, so the endpoint does not
tell who has an account. (``@needs_scope`` itself cannot be used: it checks
its scopes exist when the module is imported, before the hub has defined
the custom one.)

The handler runs in the hub, because the view reads the hub's own books of
what is in use; it is added with ``JupyterHub.extra_handlers``, which
JupyterHub 3.1+ marks deprecated in favour of services, but a service cannot
read those books. ``configure(c)`` registers it and the custom scope.
"""

from __future__ import annotations

import json

from jupyterhub import scopes
from jupyterhub.apihandlers.base import APIHandler
from jupyterhub.user import User
from tornado import web

READ_SCOPE = "custom:jhpolicy:allowance:read"
CUSTOM_SCOPES = {READ_SCOPE: {"description": "Read any user's jhpolicy allowance view (what they may launch, quota use)."}}
# Any of these on the user reads their view.
VIEW_SCOPES = ("read:servers", "admin:users", READ_SCOPE)


class AllowanceAPIHandler(APIHandler):
    async def get(self, user_name: str | None = None):
        current = self.current_user
        if current is None:
            raise web.HTTPError(403, "Missing or invalid credentials.")
        if user_name is None:
            if not isinstance(current, User):  # a service has no view of its own
                raise web.HTTPError(400, "a service must name the user: /hub/api/jhpolicy/allowance/users/{name}")
            user_name = current.name
        self._check_scope(user_name)
        # The user asking for their own view is already loaded: no second query.
        user = current if isinstance(current, User) and current.name == user_name else self.find_user(user_name)
        if user is None:
            raise web.HTTPError(404, "No access to resources or resources not found")
        # The spawner as it is: a failed one is not replaced (that would
        # drop its refusal, which the spawn-pending page shows).
        spawner = user.spawners[""]
        view = getattr(spawner, "allowance_view", None)
        if view is None:
            raise web.HTTPError(404, "this hub's spawner is not jhpolicy's PolicyKubeSpawner")
        self.set_header("Content-Type", "application/json")
        self.write(json.dumps({"user": user.name, **(await view())}))

    def _check_scope(self, user_name: str) -> None:
        """As JupyterHub's @needs_scope(*VIEW_SCOPES) on a user_name argument."""
        for scope in VIEW_SCOPES:
            if scopes.has_scope(f"{scope}!user={user_name}", self.parsed_scopes, db=self.db):
                return
        if any(scope in self.parsed_scopes for scope in VIEW_SCOPES):
            raise web.HTTPError(404, "No access to resources or resources not found")
        raise web.HTTPError(403, f"Action is not authorized with current scopes; requires any of [{', '.join(VIEW_SCOPES)}]")


HANDLERS = [
    (r"/api/jhpolicy/allowance", AllowanceAPIHandler),
    (r"/api/jhpolicy/allowance/users/([^/]+)", AllowanceAPIHandler),
]


def configure(c) -> None:
    """Register the endpoint and its scope in a JupyterHub config ``c``."""
    c.JupyterHub.extra_handlers = [*c.JupyterHub.get("extra_handlers", []), *HANDLERS]
    c.JupyterHub.custom_scopes = {**c.JupyterHub.get("custom_scopes", {}), **CUSTOM_SCOPES}
