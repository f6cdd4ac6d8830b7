"""What the hub itself offers, judged for the members of each group the
policy's data names, before it ships: `jhpolicy lint --config/--values`.

The data checks read the data alone; they cannot see that the hub's own
default image is pinned by a digest no allowance's `images` pattern names,
or that a profile's image is in no group's list. Then every spawn that
leaves it be is refused, and the admin hears of it from their users. Here
each spawn the hub offers is judged as the hub judges it, on a local OPA
with the folder's policy and nothing in use:

    the data's groups -> a member of no group (the `default` entry), of each
    group alone, and of all of them at once -> for each: the server started
    with no choices (a dry run of the REST API with no body, which is also
    the spawn page's form left as rendered: jhpolicy.tooling.dry_run), and
    the spawn page's own view of every profile and choice
    (jhpolicy.hub.spawn_page) -> warnings

- a group whose members' server started with no choices is refused;
- a profile, or a choice of one, that no member judged may select.

A member of all groups at once is judged so that what only a mix of
groups allows (an image from one, the profile from another) is not named;
a mix of some of the groups is not tried. Admins and services starting a
server for a user get their own allowances (`requesters`), not judged here.
"""

from __future__ import annotations

from dataclasses import dataclass

from traitlets.config import Config

from ..hub.errors import REFUSAL_PREFIX

# Each member is a dry run and a spawn page view; beyond this many groups, the
# first ones (by name) are judged and lint says so.
MAX_GROUPS = 50
# Distinct refusals quoted for an item no one may select; the rest are counted.
MAX_REASONS = 3
# Members named in one line told the same; the rest are counted.
MAX_NAMED = 5
MEMBER = "jhpolicy-lint-member"


@dataclass(frozen=True)
class Member:
    """A user of the hub as lint imagines them: the groups they are in."""

    groups: tuple[str, ...]

    def __str__(self) -> str:
        return "users in no group" if not self.groups else f"group {' + '.join(self.groups)}"


def members(data: dict) -> tuple[list[Member], list[str]]:
    """(who to judge, notes): a member of no group when the data has a
    `default` entry (without one, such users get nothing, on purpose), one
    of each group with an entry in `groups`, one of all of them."""
    entries = data.get("groups") if isinstance(data.get("groups"), dict) else {}
    names = sorted(name for name in entries if name != "default")
    notes = []
    if len(names) > MAX_GROUPS:
        notes.append(f"the hub's offers are judged for the first {MAX_GROUPS} of the data's {len(names)} groups "
                     "(by name)")
        names = names[:MAX_GROUPS]
    found = [Member(())] if "default" in entries else []
    found += [Member((name,)) for name in names]
    if len(names) > 1:
        found.append(Member(tuple(names)))
    return found, notes


@dataclass
class Judged:
    """What one member gets: the status and message of a server started with
    no choices, and what the spawn page does not offer them, by
    (profile, option, choice), with its name on the form and why not."""

    member: Member
    status: int | None  # None: not judged (the member of all groups)
    message: str
    unavailable: dict[tuple, tuple[str, str]]
    # The profile a server started with no choices gets, as the dry run's input names it.
    default_profile: str | None = None
    # Why the spawn page could not be judged at all (the view not available), if so.
    no_view: str | None = None


async def judge(config: Config, member: Member, opa_url: str) -> Judged:
    """One member's default spawn and spawn page, as the hub would run them."""
    from ..hub.opa_http import close_clients
    from ..hub.spawn_page import SpawnPage
    from .dry_run import Who, admin_code_error, run
    from .offline import OfflineGroup, OfflineHub, OfflineUser, make_spawner

    report = {"status": None}
    if len(member.groups) <= 1:
        report = await run(config, Who(user=MEMBER, groups=list(member.groups)), {}, opa_url)
    config = Config(config)
    config.PolicyKubeSpawner.opa_url = opa_url
    user = OfflineUser(name=MEMBER, groups=[OfflineGroup(g) for g in member.groups])
    spawner = make_spawner(config, user, {}, hub=OfflineHub())
    try:
        view = await SpawnPage(spawner).view()
    except Exception as e:
        if (raised := admin_code_error(e)) is None:
            raise
        view = {"available": False, "message": f"the hub's config raised {raised}"}  # a bare 500 in the hub
    finally:
        await close_clients()
    unavailable = {(u["profile"], u["option"], u["choice"]): (u["name"], u["reason"])
                   for u in view.get("unavailable") or []}
    default = ((report.get("input") or {}).get("request") or {}).get("profile")
    no_view = None if view.get("available") else view.get("message") or "not available"
    return Judged(member, report["status"], report.get("message") or "", unavailable, default, no_view)


def warnings(judged: list[Judged]) -> list[str]:
    """The default spawns refused, one per member (not the all-groups one),
    the spawn pages that could not be judged, then what no member may
    select, in the order the forms list them."""
    alone = [j for j in judged if j.status is not None]
    # Members told the same (the policy's refusals name the group; the hub's own code raising does not) share a line.
    spawns = _by_text([(j.member, (j.status, j.message.removeprefix(REFUSAL_PREFIX))) for j in alone if j.status != 200])
    found = [f"the hub's default spawn (a server started with no choices: the REST API with no body, the spawn "
             f"page's form as rendered) is {'refused' if status == 403 else f'answered {status}'} for "
             f"{who}: {message}" for (status, message), who in spawns]
    found += [f"the hub's spawn page for {who} could not be judged: {why}"
              for why, who in _by_text([(j.member, j.no_view) for j in judged if j.no_view])]
    items = {item: name for j in judged for item, (name, _) in j.unavailable.items()}
    if alone and all(j.status != 200 for j in alone):
        # Every member's server started with no choices is refused, and said so above: that is the
        # default profile, whose own line would only repeat it.
        items = {item: name for item, name in items.items()
                 if not (item[1] is None and all(j.default_profile == item[0] for j in alone))}
    for item, name in items.items():
        # A choice is not available to a member whose form lacks its whole profile either.
        why = [j.unavailable.get(item) or j.unavailable.get((item[0], None, None)) for j in judged]
        if all(why):
            reasons = list(dict.fromkeys(reason for j, (_, reason) in zip(judged, why) if j.status is not None))
            more = f"; and {len(reasons) - MAX_REASONS} more" if len(reasons) > MAX_REASONS else ""
            found.append(f"the hub's {_item_text(item)} ({name}): no group's members may select it: "
                         f"{'; '.join(reasons[:MAX_REASONS])}{more}")
    return found


def _by_text(told: list[tuple[Member, object]]) -> list[tuple[object, str]]:
    """(what, whom: the members told it, joined) for each distinct thing told, in order."""
    members: dict[object, list[str]] = {}
    for member, what in told:
        members.setdefault(what, []).append(str(member))
    return [(what, ", ".join(names) if len(names) <= MAX_NAMED else f"{', '.join(names[:MAX_NAMED])} and "
             f"{len(names) - MAX_NAMED} more") for what, names in members.items()]


def _item_text(item: tuple) -> str:
    slug, option, choice = item
    return f"profile {slug!r}" if option is None else f"profile {slug!r}, option {option!r}, choice {choice!r}"


async def judge_all(config: Config, data: dict, opa_url: str) -> tuple[list[str], list[str]]:
    """(warnings, notes) for the hub's offers under the data at opa_url."""
    from .offline import OfflineUser, make_spawner

    found, notes = members(data)
    if make_spawner(config, OfflineUser(name=MEMBER), {}).pre_spawn_hook is not None:
        # The admin's code, with effects of its own (a home folder made, a
        # service called): never run for a user who does not exist. jhpolicy
        # check runs it, for a user the admin names.
        config = Config(config)
        config.PolicyKubeSpawner.pre_spawn_hook = None
        notes.append("the hub's pre_spawn_hook is not run here: what it changes when a server starts is judged then "
                     "(jhpolicy check runs it)")
    judged = [await judge(config, member, opa_url) for member in found]
    return warnings(judged), notes
