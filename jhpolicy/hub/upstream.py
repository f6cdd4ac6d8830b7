"""Every private member of KubeSpawner and JupyterHub that jhpolicy uses, in
one place, each with why. A new KubeSpawner or JupyterHub that renames one
breaks here first; the vendored KubeSpawner suites (7.0.0 and 7.1.0,
tests/test_kubespawner_suite.py) run PolicyKubeSpawner in KubeSpawner's
place and guard the behaviour around them.

Overridden, not called (jhpolicy.spawner): `KubeSpawner._make_create_pod_request`,
the last step before the API server, where the built pod is checked against
the decision after `modify_pod_hook`.

Read for jhpolicy.hub.failure_count (on JupyterHub 5 a refusal must not
count as a failure): the spawn's future, its `_track_failure_count` done
callback, and the handler's `settings["failure_count"]`.
"""

from __future__ import annotations

from jupyterhub.utils import maybe_future

from ..core.request import ProfileListError, RequestError, check_profile_list


async def profile_list(spawner) -> list[dict]:
    """KubeSpawner's profile list, evaluated and initialised (slugs, one
    default), checked to be one the judges can tell apart
    (ProfileListError otherwise)."""
    profiles = sorted_profile_list(spawner, spawner.profile_list)
    if callable(profiles):
        profiles = await maybe_future(profiles(spawner))
    check_profile_list(profiles, slugs=False)  # what KubeSpawner would trip on, said plainly
    try:
        profiles = initialised_profile_list(spawner, profiles)
    except (KeyError, TypeError, AttributeError) as e:
        raise ProfileListError(f"KubeSpawner cannot initialise profile_list: {type(e).__name__}: {e}") from None
    check_profile_list(profiles)
    return profiles


def load_profile_for(spawner, slug: str | None, profile_list: list[dict], user_options: dict) -> None:
    """KubeSpawner's own profile machinery (profile, then its options'
    choices or unlisted choices) for `user_options`, on the list built once
    per spawn; what it cannot apply is the request's fault (RequestError)."""
    if not profile_list:
        return
    saved = spawner.user_options
    spawner.user_options = user_options
    try:
        load_profile(spawner, slug, profile_list)
    except (ValueError, KeyError) as e:
        raise RequestError(str(e)) from None
    finally:
        spawner.user_options = saved


def sorted_profile_list(spawner, profile_list):
    """KubeSpawner >= 7.1 takes `profile_list` as a dict too and sorts it
    into a list (`_sorted_dict_values`); older ones take a list only."""
    if hasattr(spawner, "_sorted_dict_values"):
        return spawner._sorted_dict_values(profile_list)
    return profile_list


def initialised_profile_list(spawner, profile_list: list) -> list:
    """KubeSpawner's own filling-in (slugs from display names, one default
    profile, one default choice per option): what it applies, so what the
    policy must judge (`_get_initialized_profile_list`)."""
    return spawner._get_initialized_profile_list(profile_list)


def load_profile(spawner, slug, profile_list: list) -> None:
    """KubeSpawner's profile machinery (the profile, then its options'
    choices or unlisted choices), applied to the spawner (`_load_profile`),
    so the pod judged is the pod KubeSpawner would build."""
    spawner._load_profile(slug, profile_list)


def apply_overrides(spawner, overrides: dict) -> None:
    """Overrides as JupyterHub's group_overrides and KubeSpawner's profiles
    apply them (dicts merged, callables called: `_apply_overrides`), for the
    spawn page's borrowed spawner."""
    spawner._apply_overrides(overrides)


def render_profile_form(spawner, profiles: list) -> str:
    """KubeSpawner's profile form for a list cut to what the user may pick
    (`_render_options_form`; the public `options_form` renders the whole list)."""
    return spawner._render_options_form(profiles)


async def start_watching_pods(spawner) -> None:
    """Start (or join) the shared pod reflector and wait for its first
    listing (`_start_watching_pods`): KubeSpawner starts it only after
    load_user_options, and a quota decision must see every pod."""
    await spawner._start_watching_pods()


def pod_reflectors(spawner) -> tuple[dict, str]:
    """KubeSpawner's class-wide reflectors and the pod reflector's key in it
    (`reflectors`, `_get_reflector_key`): to read the pods without holding a
    spawner, and to drop a reflector whose first listing failed."""
    return type(spawner).reflectors, spawner._get_reflector_key("pods")


def log_name(spawner) -> str:
    """How JupyterHub names a server in its log ("user:server", `_log_name`),
    so jhpolicy's lines name it the same way."""
    return spawner._log_name


def spawn_future(spawner):
    """The pending spawn's future (`_spawn_future`), None outside a hub's spawn."""
    return getattr(spawner, "_spawn_future", None)


def done_callbacks(future) -> list:
    """The callbacks a future will call when done (asyncio's `_callbacks`):
    where JupyterHub 5's handler put its failure counting."""
    return [callback for callback, *_ in getattr(future, "_callbacks", None) or ()]


def failure_count(handler) -> int:
    """JupyterHub's count of consecutive failed spawns (`settings["failure_count"]`)."""
    return handler.settings.get("failure_count", 0)


def set_failure_count(handler, count: int) -> None:
    handler.settings["failure_count"] = count
