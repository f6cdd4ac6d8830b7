"""What the spawn page offers: each profile, and each choice of its options,
judged beforehand by the policy as the spawn it would be.

A candidate is one profile with its options at their defaults, or one
non-default choice of one option with the profile's other options at
theirs (combinations are not judged: their number grows as a product).
The spawner turns each into the request, pod and sources that spawn would
have; the policy's allowance view judges them with the decision itself
(``_candidate_judgements`` in policies/allowance_view.rego). Here the
judgements become what the form shows and what it shows as not available,
with why. Unlisted (free-text) choices cannot be judged before they are
typed; the decision judges them on submit, as it judges every spawn.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from .request import SpawnRequest

# Each candidate is a whole decision in OPA; beyond this many, the rest are
# offered unjudged (the spawn itself is still decided).
MAX_CANDIDATES = 64
NOT_OFFERED = "not allowed by the spawn policy"


@dataclass(frozen=True)
class Candidate:
    slug: str
    option: str | None = None
    choice: str | None = None

    def request(self) -> SpawnRequest:
        return SpawnRequest(profile=self.slug, profile_options={self.option: self.choice} if self.option else {})


@dataclass(frozen=True)
class Unavailable:
    """A profile (option and choice None) or one choice of it, and why not."""

    slug: str
    option: str | None
    choice: str | None
    name: str
    reason: str
    # How to get more, as the refusal's decision gives it ({"text", "url"}).
    help: dict | None = None

    def as_json(self) -> dict:
        found = {"profile": self.slug, "option": self.option, "choice": self.choice, "name": self.name, "reason": self.reason}
        return {**found, "help": self.help} if self.help else found


def candidates(profile_list: list[dict]) -> list[Candidate]:
    """The spawns to judge for a form of these (initialised) profiles."""
    found = []
    for profile in profile_list:
        found.append(Candidate(profile["slug"]))
        for name, option in profile.get("profile_options", {}).items():
            found += [Candidate(profile["slug"], name, key)
                      for key, choice in option.get("choices", {}).items() if not choice.get("default")]
    return found[:MAX_CANDIDATES]


def sort_out(
    profile_list: list[dict], selectable: set[str], whom: str, judged: dict[Candidate, dict]
) -> tuple[list[dict], list[Unavailable]]:
    """(the profiles to offer, their refused choices taken out; what is not
    available and why). A profile is not available when the policy does not
    let the user select it, or when neither its defaults nor any one of its
    choices would be allowed. `judged` maps a candidate to the policy's
    {"allow", "message"}; a candidate not in it is offered."""
    offered, unavailable = [], []
    for profile in profile_list:
        slug, name = profile["slug"], profile.get("display_name") or profile["slug"]
        if slug not in selectable:
            unavailable.append(Unavailable(slug, None, None, name, f"not allowed for {whom}"))
            continue
        default = judged.get(Candidate(slug), {"allow": True})
        refused = {c: j for c, j in judged.items() if c.slug == slug and c.option and not j["allow"]}
        choices = [c for c in judged if c.slug == slug and c.option]
        if not default["allow"] and len(refused) == len(choices):
            unavailable.append(Unavailable(slug, None, None, name, default["message"] or NOT_OFFERED, default.get("help")))
            continue
        profile = copy.deepcopy(profile)
        for candidate, judgement in refused.items():
            option = profile["profile_options"][candidate.option]
            label = _choice_name(name, candidate.option, option, candidate.choice)
            unavailable.append(Unavailable(slug, candidate.option, candidate.choice, label, judgement["message"] or NOT_OFFERED,
                                           judgement.get("help")))
            del option["choices"][candidate.choice]
        if not default["allow"]:
            _move_refused_defaults(profile, name, default, judged, unavailable)
        offered.append(profile)
    return offered, unavailable


def _move_refused_defaults(profile: dict, name: str, default: dict, judged: dict, unavailable: list) -> None:
    """The defaults are refused but some choice is not: in each option where
    changing that option alone gives a spawn the policy allows, its default
    is refused too, and the first allowed choice becomes the default."""
    for option_name, option in profile.get("profile_options", {}).items():
        allowed = [key for key in option.get("choices", {})
                   if judged.get(Candidate(profile["slug"], option_name, key), {}).get("allow")]
        if not allowed:
            continue
        old = next(key for key, choice in option["choices"].items() if choice.get("default"))
        label = _choice_name(name, option_name, option, old)
        unavailable.append(Unavailable(profile["slug"], option_name, old, label, default["message"] or NOT_OFFERED,
                                       default.get("help")))
        del option["choices"][old]
        option["choices"][allowed[0]]["default"] = True


def _choice_name(profile_name: str, option_name: str, option: dict, choice: str) -> str:
    """As the form shows it: "GPU, Image: MATLAB"."""
    shown = option["choices"][choice].get("display_name") or choice
    return f"{profile_name}, {option.get('display_name') or option_name}: {shown}"
