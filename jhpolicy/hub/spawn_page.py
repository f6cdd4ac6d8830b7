"""The spawn page and the allowance view of one PolicyKubeSpawner.

Both judge the spawns the hub would run for the user, before they ask:

    the profile list (checked) -> the user's group_overrides -> the empty
    request's input (the default profile) -> each candidate the form would
    offer (jhpolicy.core.offers), built on the borrowed spawner -> one query:
    the allowance view with every candidate judged -> what to offer, what
    is not available and why -> the panel (jhpolicy.core.panel) above
    KubeSpawner's form, or the view as JSON (jhpolicy.api)

A SpawnPage is made per page or view; it borrows the spawner's
configuration only between an await and the next (see `borrowed_pod`), so
nothing else ever sees it. Neither runs `pre_spawn_hook` (JupyterHub runs it
only in User.spawn; it may have side effects): they say so (`notes`).
"""

from __future__ import annotations

import json

from jupyterhub.utils import maybe_future
from tornado import web

from ..core import allowance, offers, panel
from ..core import decision as decisions
from ..core.opa_input import build_input, describe_spawn
from ..core.pod import InvalidPod, prospective
from ..core.request import ProfileListError, RequestError, SpawnRequest, parse_request, selected_profile
from ..core.users import user_groups
from . import errors, metrics, opa_http, transaction, upstream, view_cache

# Rendered profile forms, by what they depend on (cached_form); the oldest goes first.
_FORMS: dict[str, str] = {}
MAX_CACHED_FORMS = 256

# The spawn page and the allowance view run no pre_spawn_hook: they say so.
HOOK_NOTE = "This hub's pre_spawn_hook may change a server when it starts; those changes are judged then."


class SpawnPage:
    def __init__(self, spawner) -> None:
        self.spawner = spawner

    # --- the two products ---

    async def form(self) -> str:
        """KubeSpawner's profile form, with only what the policy lets this
        user pick, under the allowance panel (policy_allowance_panel): the
        view, and what is not available with why (jhpolicy.core.offers)."""
        spawner = self.spawner
        try:
            profile_list = await upstream.profile_list(spawner)
        except ProfileListError as e:
            spawner.log.error("jhpolicy: no spawn page for %s: profile_list: %s", upstream.log_name(spawner), e)
            raise errors.misconfigured(f"profile_list: {e}") from None
        layers = await self.group_override_layers()
        try:
            input_doc = self.input_without_request(profile_list, layers)
        except (InvalidPod, RequestError) as e:
            raise errors.invalid_request(str(e)) from None
        if not spawner.policy_allowance_panel:
            selectable = await self.selectable_profiles(input_doc, profile_list)
            if selectable is None:
                return ""  # policy_failure_mode "defaults": no form, the admin's defaults
            return self.form_of([p for p in profile_list if p["slug"] in selectable], [])
        view, selectable, judged = await self.offer(input_doc, profile_list, layers)
        if selectable is None:
            return ""
        shown, unavailable = offers.sort_out(profile_list, selectable, whom(view), judged)
        form = self.form_of(shown, unavailable)
        return panel.render(view, [(u.name, u.reason, u.help) for u in unavailable], self.notes()) + form

    async def view(self) -> dict:
        """What the user may launch, how much is in use, and which profiles
        and choices are not available to them with why, for the user
        themselves asking (not an admin or a service for them): the spawn
        page's panel as JSON. Never raises for a policy problem: a view that
        cannot be had is `allowance.NOT_AVAILABLE`, the reason logged."""
        spawner = self.spawner
        try:
            profile_list = await upstream.profile_list(spawner)
        except ProfileListError as e:
            spawner.log.error("jhpolicy: no allowance view for %s: profile_list: %s", upstream.log_name(spawner), e)
            return dict(allowance.NOT_AVAILABLE)
        layers = await self.group_override_layers()
        try:
            input_doc = self.input_without_request(profile_list, layers)
        except (InvalidPod, RequestError) as e:
            spawner.log.error("jhpolicy: no allowance view for %s: the hub's defaults are not a pod: %s", upstream.log_name(spawner), e)
            return dict(allowance.NOT_AVAILABLE)
        try:
            view, selectable, judged = await self.offer(input_doc, profile_list, layers)
        except web.HTTPError:
            return dict(allowance.NOT_AVAILABLE)  # the profile list's failure, logged
        if not view.get("available"):
            return view
        if selectable is None:
            return dict(allowance.NOT_AVAILABLE)  # the profile list's failure, logged
        _, unavailable = offers.sort_out(profile_list, selectable, whom(view), judged)
        return {**view, "unavailable": [u.as_json() for u in unavailable], "notes": self.notes()}

    # --- the spawn the hub would run ---

    async def group_override_layers(self) -> list[dict]:
        """The `spawner_override`s of JupyterHub's group_overrides (5.1+) that
        apply to this user, in the order User.spawn applies them. User.spawn
        applies them before start(), never when the spawn page is rendered
        or the allowance view asked: these apply them on the borrowed
        spawner (borrowed_pod), so they judge the spawn the hub will run."""
        spawner = self.spawner
        overrides = getattr(spawner, "group_overrides", None)
        if callable(overrides):
            overrides = await maybe_future(overrides(spawner))
        if not isinstance(overrides, dict):
            return []
        names = {g if isinstance(g, str) else g.name for g in user_groups(spawner.user)}
        return [overrides[key].get("spawner_override", {}) for key in sorted(overrides)
                if names & set(overrides[key].get("groups", []))]

    def input_without_request(self, profile_list: list[dict], layers: list[dict]) -> dict:
        """The decision input for an empty request by the user themselves, as
        the hub would run it (group_overrides, the default profile): what the
        spawn page and the allowance view ask the policy about.
        InvalidPod if the hub's defaults are not a pod."""
        try:
            request = parse_request({}, profile_list)
            pod = self.borrowed_pod(request, profile_list, layers)
        except RequestError:
            # A default profile with no default spawn (an option with only a
            # free-text choice): the hub's defaults and group_overrides alone.
            request = parse_request({}, [])
            pod = self.borrowed_pod(request, [], layers)
        return build_input(self.spawner, request, None, pod)

    def borrowed_pod(self, request: SpawnRequest, profile_list: list[dict], layers: list[dict]):
        """The pod a spawn of `request` would give, with `layers` (the user's
        group_overrides) and the profile applied as the hub applies them, on
        the spawner, put back as it was before anything else runs (no await
        in between)."""
        spawner = self.spawner
        profile = selected_profile(request.profile, profile_list)
        keys = transaction.changeable_keys(spawner.policy_allowed_keys, profile) | {key for layer in layers for key in layer}
        snapshot = transaction.Snapshot(spawner, keys)
        try:
            for layer in layers:
                upstream.apply_overrides(spawner, layer)
            upstream.load_profile_for(spawner, request.profile, profile_list, dict(request.profile_options))
            return prospective(spawner, request, profile, spawner.policy_allowed_keys)
        finally:
            snapshot.restore(spawner)

    def notes(self) -> list[str]:
        """What the page and the view cannot judge beforehand."""
        return [] if self.spawner.pre_spawn_hook is None else [HOOK_NOTE]

    # --- asking the policy ---

    async def offer(self, input_doc: dict, profile_list: list[dict], layers: list[dict]) -> tuple[dict, set[str] | None, dict]:
        """The allowance view, the profiles the user may select, and the
        judgements of the page's candidates. One query when the view judged
        every profile (a profile the user may not select is then refused,
        saying so); else the profile list (opa_profiles_path) too."""
        view, judged = await self.judged_view(input_doc, profile_list, layers)
        if all(offers.Candidate(p["slug"]) in judged for p in profile_list):
            return view, {p["slug"] for p in profile_list}, judged
        return view, await self.selectable_profiles(input_doc, profile_list), judged

    async def judged_view(self, input_doc: dict, profile_list: list[dict], layers: list[dict]) -> tuple[dict, dict]:
        """The allowance view, and the policy's judgement of each of the
        spawn page's candidates (jhpolicy.core.offers), one query for both."""
        judged, spawns = {}, {}
        for candidate in offers.candidates(profile_list):
            try:
                request = candidate.request()
                spawns[candidate] = describe_spawn(request, self.borrowed_pod(request, profile_list, layers))
            except InvalidPod as e:
                judged[candidate] = {"allow": False, "message": str(e)}
            except RequestError:
                pass  # e.g. an option with only an unlisted choice has no default spawn: offered, decided on submit
        # A copy: the view's input gets the usage and the candidates, the profile list's does not.
        view = await self.allowance_view({**input_doc, "candidates": list(spawns.values())}, len(spawns))
        judged.update(zip(spawns, view.pop("candidates", None) or []))
        return view, judged

    async def allowance_view(self, input_doc: dict, candidates: int) -> dict:
        spawner = self.spawner
        try:
            books = spawner.policy_books
            if books.on:
                # The books as they are, with what the pod reflector (once a
                # decision started it) shows; a page never waits for the API
                # server. A snapshot, read outside the decision slot.
                books.reconcile(running=False)
                input_doc["usage"] = books.usage(input_doc["user"]["groups"])
            # Kept under the whole input, usage included (jhpolicy.hub.view_cache);
            # with 0 seconds nothing is kept, and the input is not hashed.
            seconds = spawner.policy_view_cache_seconds
            kept_as = view_cache.key(spawner.opa_url, spawner.opa_token, spawner.opa_allowance_path, input_doc) if seconds else None
            view = view_cache.VIEWS.get(kept_as) if kept_as else None
            if view is not None:
                metrics.ALLOWANCE_VIEWS.labels(source="kept").inc()
                return view
            answer = await spawner.opa().ask(spawner.opa_allowance_path, input_doc)
            view = allowance.validate(answer.result, candidates)
            if kept_as:
                view_cache.VIEWS.put(kept_as, view, seconds)
            metrics.ALLOWANCE_VIEWS.labels(source="opa").inc()
            return view
        except (opa_http.PolicyUnavailable, allowance.ViewBroken) as e:
            spawner.log.error("jhpolicy: no allowance view for %s: %s", upstream.log_name(spawner), e)
            metrics.ALLOWANCE_VIEWS.labels(source="unavailable").inc()
            return dict(allowance.NOT_AVAILABLE)

    async def selectable_profiles(self, input_doc: dict, profile_list: list[dict]) -> set[str] | None:
        """The slugs the policy lets this user select (opa_profiles_path);
        None when the policy cannot say and policy_failure_mode is "defaults"."""
        spawner = self.spawner
        if not profile_list:
            return set()
        try:
            profiles_doc = {**input_doc, "profiles": [p["slug"] for p in profile_list]}
            visible = (await spawner.opa().ask(spawner.opa_profiles_path, profiles_doc)).result
            if not isinstance(visible, list) or not all(isinstance(slug, str) for slug in visible):
                raise decisions.PolicyBroken(f"{spawner.opa_profiles_path} is not a list of slugs: {visible!r:.200}")
        except (opa_http.PolicyUnavailable, decisions.PolicyBroken) as e:
            if spawner.policy_failure_mode == "defaults":
                spawner.log.error("jhpolicy: %s; no profile form for %s", e, upstream.log_name(spawner))
                return None
            spawner.log.error("jhpolicy: cannot list profiles for %s: %s", upstream.log_name(spawner), e)
            raise errors.unavailable() from None
        return set(visible)

    # --- the form ---

    def form_of(self, shown: list[dict], unavailable: list) -> str:
        if not shown:
            # Each profile's reason, and the first way to get more the policy gave.
            reasons = "; ".join(f"{u.name}: {u.reason}" for u in unavailable if u.choice is None)
            help = next((u.help for u in unavailable if u.help), None)
            raise errors.denied(["none of this hub's profiles is available to you" + (f" ({reasons})" if reasons else "")],
                                help=help)
        return self.cached_form(shown)

    def cached_form(self, shown: list[dict]) -> str:
        """KubeSpawner's form for these profiles. KubeSpawner renders a fixed
        profile_list once; a form cut to each user's profiles is rendered per
        page, and KubeSpawner compiles its template on every render (about
        10 ms here), so the HTML is kept for the inputs it depends on."""
        spawner = self.spawner
        # Saved options naming a profile the form leaves out would check no
        # radio (KubeSpawner's template checks the saved profile, else the
        # default): rendered as if none were saved, the first offered is checked.
        original = spawner.user_options
        saved = original or {}
        options = saved if saved.get("profile") in {None, *(p["slug"] for p in shown)} else {}
        key = json.dumps(
            [shown, options, spawner.profile_form_template, list(spawner.additional_profile_form_template_paths)],
            sort_keys=True, default=repr,
        )
        form = _FORMS.get(key)
        if form is None:
            spawner.user_options = options
            try:
                form = _FORMS[key] = upstream.render_profile_form(spawner, shown)
            finally:
                spawner.user_options = original
            while len(_FORMS) > MAX_CACHED_FORMS:
                _FORMS.pop(next(iter(_FORMS)))
        return form


def whom(view: dict) -> str:
    """Who the view's allowance is for, as a refusal names it."""
    return ", ".join(view["sources"]) if view.get("available") and view.get("sources") else "you"
