"""What jhpolicy reads from JupyterHub's user objects."""

from __future__ import annotations


def user_groups(user) -> list:
    """The user's groups: JupyterHub's ``orm.Group`` objects (a list), or
    names where a caller passes those. Anything else (a test's ``Mock`` user,
    whose every attribute is another Mock) is no groups: the least a policy
    grants, never a group's allowance read from something that is not one."""
    groups = getattr(user, "groups", None)
    return list(groups) if isinstance(groups, (list, tuple, set, frozenset)) else []
