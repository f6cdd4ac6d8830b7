"""The idle culler's hub service and role as Zero to JupyterHub 4.4.0's
jupyterhub_config.py defines them from cull.* (before jhpolicy.culler.configure
makes them jhpolicy's)."""

from __future__ import annotations

Z2JH_SCOPES = ["list:users", "read:users:activity", "read:servers", "delete:servers"]


def z2jh_culler(python: str, url: str, timeout: int, every: int, max_age: int = 0) -> tuple[dict, dict]:
    """(service, role), with the chart's command: `python` -m jupyterhub_idle_culler and cull.*'s options."""
    command = [python, "-m", "jupyterhub_idle_culler", f"--url={url}", f"--timeout={timeout}",
               f"--cull-every={every}", "--concurrency=10"] + ([f"--max-age={max_age}"] if max_age else [])
    service = {"name": "jupyterhub-idle-culler", "command": command}
    role = {"name": "jupyterhub-idle-culler", "scopes": list(Z2JH_SCOPES), "services": ["jupyterhub-idle-culler"]}
    return service, role
