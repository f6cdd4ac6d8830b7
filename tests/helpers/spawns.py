"""Spawns without a hub: real PolicyKubeSpawner objects built with a
throwaway kube config (jhpolicy.tooling.offline), driven as a hub drives them, all
on one event loop (LOOP); and the spawn page's form the same way."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from tornado import web
from traitlets.config import Config

from jhpolicy.tooling.offline import (
    OfflineRequester,
    OfflineUser,
    apply_group_overrides,
    make_spawner,
    pod_summary,
    pod_to_create,
)


@dataclass
class SpawnResult:
    error: web.HTTPError | None
    spawner: object
    before: dict
    after: dict
    pod: dict | None
    manifest: object = None  # the V1Pod KubeSpawner built

    @property
    def status(self) -> int:
        return self.error.status_code if self.error else 200

    @property
    def message(self) -> str:
        from jhpolicy.hub.errors import message_of

        return message_of(self.error) if self.error else ""

    def changed(self) -> dict:
        """Config traits whose value differs after the request, as (before, after)."""
        return {k: (self.before[k], self.after[k]) for k in self.before if self.before[k] != self.after[k]}


def _trait_values(spawner) -> dict:
    from jhpolicy.hub.transaction import Snapshot

    return Snapshot(spawner, spawner.trait_names(config=True)).values


# One loop for all offline spawns: KubeSpawner caches its (never used)
# Kubernetes client per loop, and building one costs ~50 ms of SSL setup.
LOOP = asyncio.new_event_loop()


def run_spawn(
    opa_url: str,
    body: dict,
    *,
    groups=(),
    user="alice",
    server="",
    requester: OfflineRequester | None = None,
    config: Config | None = None,
) -> SpawnResult:
    """group_overrides, load_user_options, then get_pod_manifest, as a hub does."""

    async def go():
        c = Config(config) if config else Config()
        c.PolicyKubeSpawner.opa_url = opa_url
        who = user if isinstance(user, OfflineUser) else OfflineUser(name=user, groups=list(groups))
        spawner = make_spawner(c, who, body, server, requester)
        await apply_group_overrides(spawner)
        before = _trait_values(spawner)
        error = pod = manifest = None
        try:
            manifest = await pod_to_create(spawner)
            pod = pod_summary(manifest)
        except web.HTTPError as e:
            error = e
        return SpawnResult(error, spawner, before, _trait_values(spawner), pod, manifest)

    return LOOP.run_until_complete(go())


def page(spawner):
    """The spawn page's form, or the HTTPError the hub would answer with."""
    from tornado import web

    async def go():
        try:
            return await spawner.get_options_form()
        except web.HTTPError as e:
            return e

    return LOOP.run_until_complete(go())
