"""jupyterhub-idle-culler 2.0 with jhpolicy's arbiter, and the hub configuration that runs it.

``python -m jhpolicy.culler [the culler's own options]`` is the culler with
``IdleCuller.cull_arbiter_hook`` set to :func:`jhpolicy.core.lifetime.arbiter`:
servers are culled when their decided lifetime is up, the rest as the
culler's options say. :func:`configure` turns the culler service Zero to
JupyterHub starts from its ``cull.*`` values into that one (the values
stacks call it from ``hub.extraConfig``).
"""

from __future__ import annotations

import os
import sys

# The culler's scopes as Zero to JupyterHub 4.4.0 grants them, plus the one
# the arbiter needs to read a server's saved lifetime (jhpolicy.core.lifetime).
STATE_SCOPE = "admin:server_state"
Z2JH_SERVICE = "jupyterhub-idle-culler"
CULLER_MODULE = "jupyterhub_idle_culler"
MINIMUM_VERSION = (2, 0)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split(".")[:2] if p.isdigit())


def main(argv: list[str] | None = None) -> None:
    import jupyterhub_idle_culler
    from traitlets.config import Config

    from .core.lifetime import arbiter

    version = getattr(jupyterhub_idle_culler, "__version__", "0")
    if _version(version) < MINIMUM_VERSION:
        raise SystemExit(
            f"jhpolicy: server lifetimes need jupyterhub-idle-culler 2.0 or newer (its cull_arbiter_hook); "
            f"this Python has {version}: pip install 'jupyterhub-idle-culler>=2.0'"
        )
    config = Config()
    config.IdleCuller.cull_arbiter_hook = arbiter
    app = jupyterhub_idle_culler.IdleCuller.instance(config=config)
    app.initialize(argv)
    # Which culler, from where: the no-image-build route imports it from a mounted wheel.
    app.log.info("jhpolicy: jupyterhub-idle-culler %s (%s) culling with jhpolicy's arbiter, lifetimes from each "
                 "server's saved state", version, jupyterhub_idle_culler.__file__)
    app.start()


def configure(c, service: str = Z2JH_SERVICE) -> None:
    """Run the culler service named `service` (as z2jh's ``cull.*`` values
    defined it, in ``c.JupyterHub.services``) with jhpolicy's arbiter:

    - its command runs ``-m jhpolicy.culler`` with the same options, but
      ``--max-age``, which the culler applies without asking the arbiter and
      would cut across decided ages: its value goes to the arbiter
      (JHPOLICY_CULL_MAX_AGE), the maximum age of servers with none decided;
    - its role gets ``admin:server_state``, to read the saved lifetimes;
    - wheels imported from files (the no-image-build stack puts them on the
      hub's sys.path) go on its PYTHONPATH, so it runs the same jhpolicy and
      jupyterhub-idle-culler 2.0 as the hub.

    Without that service (``cull.enabled: false``) it does nothing.
    """
    from .core.lifetime import FALLBACK_MAX_AGE_ENV

    # Unset, these are traitlets' LazyConfigValue, not lists: then there is no culler.
    services = c.JupyterHub.services if "services" in c.JupyterHub else []
    roles = c.JupyterHub.load_roles if "load_roles" in c.JupyterHub else []
    for spec in services:
        if spec.get("name") == service and CULLER_MODULE in spec.get("command", []):
            break
    else:
        return
    command = list(spec["command"])
    max_age = [arg for arg in command if arg.startswith("--max-age=")]
    command = [arg for arg in command if arg not in max_age]
    command[command.index(CULLER_MODULE)] = "jhpolicy.culler"
    environment = dict(spec.get("environment") or {})
    if max_age:
        environment[FALLBACK_MAX_AGE_ENV] = max_age[-1].split("=", 1)[1]
    wheels = [p for p in sys.path if p.endswith(".whl")]
    if wheels:
        environment["PYTHONPATH"] = os.pathsep.join(wheels + [p for p in [environment.get("PYTHONPATH")] if p])
    spec.update(command=command, environment=environment)
    for role in roles:
        if service in role.get("services", []) and STATE_SCOPE not in role.setdefault("scopes", []):
            role["scopes"].append(STATE_SCOPE)


if __name__ == "__main__":
    main(sys.argv[1:])
