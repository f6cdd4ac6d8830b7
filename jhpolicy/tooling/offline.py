"""A real PolicyKubeSpawner outside a running hub, for `jhpolicy check` and tests.

KubeSpawner loads a kube config when it is constructed, although building
the pod manifest never calls the Kubernetes API. The dry runs use the kube
config shipped beside this module, which points at an unroutable address
that nothing ever connects to; never the admin's own, whose credential
plugins (`exec:`) would run for nothing, or fail.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from traitlets.config import Config

from ..hub.books import ServerBooks
from ..hub.ledger import Totals
from .shipped import PACKAGE

OFFLINE_KUBECONFIG = PACKAGE / "offline-kubeconfig.yaml"


def use_offline_kube_config() -> None:
    """For this process (the CLI): KubeSpawner reads the offline kube config, whatever the environment says."""
    os.environ.pop("KUBERNETES_SERVICE_HOST", None)  # not the pod's service account either
    _point_at(OFFLINE_KUBECONFIG)


def ensure_kube_config() -> None:
    """Point KUBECONFIG at the offline config unless a real one is found
    (tests that build spawners in a process that also talks to a cluster)."""
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        return
    configured = os.environ.get("KUBECONFIG")
    if configured and all(Path(p).exists() for p in configured.split(os.pathsep)):
        return
    if not configured and Path("~/.kube/config").expanduser().exists():
        return
    _point_at(OFFLINE_KUBECONFIG)


def _point_at(path: Path) -> None:
    os.environ["KUBECONFIG"] = str(path)
    # kubernetes_asyncio reads KUBECONFIG once, when it is first imported.
    from kubernetes_asyncio.config import kube_config

    kube_config.KUBE_CONFIG_DEFAULT_LOCATION = str(path)


@dataclass(frozen=True)
class OfflineGroup:
    """Stands in for ``orm.Group``: JupyterHub's code reads ``.name``, jhpolicy ``.properties`` too."""

    name: str
    properties: dict = field(default_factory=dict, compare=False, hash=False)


@dataclass
class OfflineUser:
    """Stands in for JupyterHub's User: the attributes a spawner reads."""

    name: str
    groups: list[OfflineGroup] = field(default_factory=list)
    admin: bool = False
    id: int = 1
    auth_state: dict | None = None

    def __post_init__(self):
        self.groups = [OfflineGroup(g) if isinstance(g, str) else g for g in self.groups]

    async def get_auth_state(self):
        return self.auth_state

    @property
    def url(self) -> str:
        return f"/user/{self.name}/"

    @property
    def escaped_name(self) -> str:
        return self.name


@dataclass
class OfflineRequester:
    """Stands in for ``handler.current_user``: a user or a service."""

    name: str
    kind: str = "user"
    admin: bool = False


@dataclass
class OfflineHub:
    public_host: str = ""
    url: str = "http://hub:8081/hub/"
    base_url: str = "/hub/"
    api_url: str = "http://hub:8081/hub/api"


@dataclass
class OfflineHandler:
    current_user: object


@dataclass
class OfflineORMSpawner:
    """Stands in for JupyterHub's database row: Spawner.name reads it."""

    name: str = ""
    server: object = None
    user_options: dict = field(default_factory=dict)


class OfflineBooks(ServerBooks):
    """A server's books with no cluster behind them: the pods are never
    listed (the offline kube config's address is unroutable), so only what
    the spawns themselves booked counts (jhpolicy.hub.books); or, given a
    `usage` (input.usage's shape, as `jhpolicy check --usage` reads it), the
    books read as that: the totals given, zero for the rest."""

    def __init__(self, spawner, usage: dict | None = None) -> None:
        super().__init__(spawner)
        self.fixed_usage = usage

    async def _watch_pods(self) -> None:
        return None

    def read_usage(self, books, user, groups: list[str]) -> dict:
        if self.fixed_usage is None:
            return super().read_usage(books, user, groups)
        real = super().read_usage(books, user, groups)  # for its shape: the scopes and groups a decision reads
        zero, fixed = Totals().as_input(), self.fixed_usage
        return {
            "user": {**zero, **(fixed.get("user") or {})},
            "user_by_group": {g: {**zero, **(fixed.get("user_by_group", {}).get(g) or {})} for g in real["user_by_group"]},
            "groups": {g: {**zero, **(fixed.get("groups", {}).get(g) or {})} for g in real["groups"]},
            "hub": {**zero, **(fixed.get("hub") or {})},
        }


def make_spawner(
    config: Config,
    user: OfflineUser,
    user_options: dict,
    server_name: str = "",
    requester: OfflineRequester | None = None,
    spawner_class=None,
    hub: OfflineHub | None = None,
    usage: dict | None = None,
):
    """Build the spawner; call from inside a running event loop (KubeSpawner needs one).
    Spawners given the same `hub` share its books (jhpolicy.hub.ledger), as in a hub;
    given a `usage`, its decisions read that as input.usage (OfflineBooks)."""
    ensure_kube_config()
    if spawner_class is None:
        from ..spawner import PolicyKubeSpawner as spawner_class
    orm_spawner = OfflineORMSpawner(name=server_name, user_options=user_options)
    spawner = spawner_class(config=config, user=user, hub=hub or OfflineHub(), orm_spawner=orm_spawner)
    spawner.user_options = user_options
    spawner.handler = OfflineHandler(requester) if requester else None
    if hasattr(spawner, "policy_books"):
        spawner.policy_books = OfflineBooks(spawner, usage)
    return spawner


async def apply_group_overrides(spawner) -> None:
    """What JupyterHub's User.spawn does to the spawner before start() (>= 5.1)."""
    if hasattr(spawner, "apply_group_overrides"):
        await spawner.apply_group_overrides()


async def pod_to_create(spawner):
    """KubeSpawner._start up to the API call: load_user_options,
    get_pod_manifest, modify_pod_hook, then PolicyKubeSpawner's check of the
    pod (done in _make_create_pod_request in a hub)."""
    from jupyterhub.utils import maybe_future

    await spawner.load_user_options()
    pod = await spawner.get_pod_manifest()
    if spawner.modify_pod_hook:
        pod = await maybe_future(spawner.modify_pod_hook(spawner, pod))
    if hasattr(spawner, "verify_pod"):
        spawner.verify_pod(pod)
    return pod


def pod_summary(pod) -> dict:
    """The parts of a pod manifest a spawn request can change."""
    container = pod.spec.containers[0]
    resources = container.resources
    return {
        "image": container.image,
        "limits": dict(resources.limits or {}) if resources else {},
        "requests": dict(resources.requests or {}) if resources else {},
    }
