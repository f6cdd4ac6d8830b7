"""One hub's spawners without a hub, sharing its books (jhpolicy.hub.ledger),
started concurrently on one loop; and a player of start/stop steps that
checks the books after each batch (tests/test_quotas.py,
tests/test_quota_invariant.py)."""

from __future__ import annotations

import asyncio

from tornado import web
from traitlets.config import Config

from jhpolicy.hub import ledger
from jhpolicy.tooling.offline import OfflineGroup, OfflineHub, OfflineUser, make_spawner

from .spawns import LOOP


def config(opa_url: str, **traits) -> Config:
    c = Config()
    c.PolicyKubeSpawner.opa_url = opa_url
    for name, value in traits.items():
        setattr(c.PolicyKubeSpawner, name, value)
    return c


class Books:
    """Spawners of one hub: they share `hub` and so its ledger."""

    def __init__(self, opa_url: str, **traits):
        self.hub = OfflineHub()
        self.config = config(opa_url, **traits)
        self.spawners: dict[tuple[str, str], object] = {}

    @property
    def ledger(self) -> ledger.Ledger:
        return ledger.for_hub(self.hub)

    def spawner(self, user: str, server: str, groups=(), body=None):
        # Built on the shared loop: KubeSpawner needs a running one.
        async def build():
            who = OfflineUser(name=user, groups=[g if isinstance(g, OfflineGroup) else OfflineGroup(g) for g in groups])
            return make_spawner(self.config, who, body or {}, server, hub=self.hub)

        spawner = self.spawners[(user, server)] = LOOP.run_until_complete(build())
        return spawner

    async def start(self, spawner) -> int:
        """load_user_options as KubeSpawner._start runs it; the HTTP status a caller would get."""
        try:
            await spawner.load_user_options()
            return 200
        except web.HTTPError as e:
            return e.status_code

    def run(self, *coroutines):
        async def gather():
            return await asyncio.gather(*coroutines)

        return LOOP.run_until_complete(gather())

    def held(self, user: str, server: str):
        return self.ledger.holdings.get((user, server))


def assert_books_add_up(books: Books) -> None:
    """Every total equals the sum over the booked servers; nothing is negative."""
    book = books.ledger
    holdings = list(book.holdings.values())
    assert book.hub.as_input() == expected_totals(holdings, lambda h: True)
    for user in {h.user for h in holdings} | set(book.users):
        assert book.usage(user, [])["user"] == expected_totals(holdings, lambda h, u=user: h.user == u)
    for group in {h.group for h in holdings if h.group} | set(book.groups):
        assert book.usage("-", [group])["groups"][group] == expected_totals(holdings, lambda h, g=group: h.group == g)
    for totals in [book.hub, *book.users.values(), *book.groups.values(), *book.user_groups.values()]:
        assert all(v >= 0 for v in totals.amounts.values())


def play(books: Books, batches, groups_of, bodies, check) -> None:
    """Run `batches` of (action, user, server, body index) steps; `check()` after each batch."""
    active: set[tuple[str, str]] = set()
    for batch in batches:
        starting, coroutines = [], []
        for action, user, server, body in batch:
            key = (user, server)
            if action == "start" and key not in active and key not in starting:
                spawner = books.spawner(user, server, groups_of(user), bodies[body])
                starting.append(key)
                coroutines.append(books.start(spawner))
            elif action in ("stop", "fail") and key in active:
                # A stop, or a spawn that failed after its decision: JupyterHub's User.stop clears the state.
                books.spawners[key].clear_state()
                active.discard(key)
        # Starts of one batch run concurrently, interleaved by the event loop.
        for key, status in zip(starting, books.run(*coroutines)):
            # 403: a quota or an allowance said no; never a 500 or a 503.
            assert status in (200, 403), (key, status)
            if status == 200:
                active.add(key)
        assert set(books.ledger.holdings) == active
        assert_books_add_up(books)
        check()


def expected_totals(holdings, keep) -> dict:
    totals = ledger.Totals()
    for h in holdings:
        if keep(h):
            totals.add(h.amounts, +1)
    return totals.as_input()
