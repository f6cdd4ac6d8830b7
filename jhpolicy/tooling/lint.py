"""Check a policy folder before it ships: what OPA would refuse to load
(``opa check --strict`` for the Rego; loading the folder for ``opa eval``
for the data files, which ``opa check`` does not read), then the data's
problems as the policy itself names them (the rule
``data.jupyterhub.spawn.problems_everywhere``: every allowance and quota in
data.jhpolicy, whoever it governs). Then what the data checks accept but
no group, image or profile can match as written, read here in Python from
the same data: names with whitespace, repositories written with a tag,
names a setting uses that nothing else has (errors where nothing can ever
match, warnings where it may be meant). `jhpolicy lint` prints them;
`jhpolicy configmap` and `jhpolicy bundle` refuse to build from a folder
that has any problem, with the same messages.
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

from . import close_names

PROBLEMS_RULE = "data.jupyterhub.spawn.problems_everywhere"


# Given names, each with the names it may be meant for: the ones one typo away (close_names.py).
Suggest = Callable[[close_names.Asked], list[list[str]]]


class LintError(Exception):
    """The folder could not be checked at all (no OPA, no folder)."""


DECISION_PATH = "jupyterhub/spawn/decision"


def check(opa: str, folder: Path, decision_path: str = DECISION_PATH,
          profile_slugs: list[str] | None = None) -> tuple[list[str], list[str]]:
    """(problems, warnings), one line each, from one OPA check and one query
    (and, given profile_slugs, one more to match them).

    Beyond what OPA would not load and what the data checks find: what OPA
    loads but a hub could not use, each with what to do (no policy files,
    the folder `jhpolicy init` made instead of its policies/, no rule at the
    decision path, jhpolicy's policy without a `jhpolicy` key in its data),
    and group names no JupyterHub group, image patterns and repositories no
    image can match as written. Warnings: what is likely a mistake but may
    be meant (group names that differ only by case, JupyterHub's group
    names being case-sensitive; an image pattern without a tag; capital
    letters in a repository's path; names nothing else in the data has;
    given the slugs of the hub's profile_list, a `profiles` pattern that
    matches none of them)."""
    if not folder.is_dir():
        raise LintError(f"{folder}: no such folder")
    if (folder / "policies").is_dir() and any((folder / "policies").glob("*.rego")) and not any(folder.glob("*.rego")):
        return [f"this is the folder `jhpolicy init` made, not its policies: give --policies {folder / 'policies'}"], []
    if not any(folder.rglob("*.rego")):
        return ["no policy (.rego) files in it: give the folder that holds your policies and their data.json"], []
    checked = _run([opa, "check", "--strict", "--format=json", str(folder)])
    if checked.returncode != 0:
        return _opa_errors(checked), []
    rule = "data." + decision_path.strip("/").replace("/", ".")
    # One query; each part a comprehension, so an undefined one is [] and not an undefined query.
    evaluated = _run([opa, "eval", "--format=json", "--data", str(folder),
                      f"r := {{\"problems\": [x | x := {PROBLEMS_RULE}], \"decision\": [x | x := {rule}], "
                      "\"jhpolicy\": [x | x := data.jhpolicy]}"])
    if evaluated.returncode != 0:
        return _opa_errors(evaluated), []
    parts = json.loads(evaluated.stdout)["result"][0]["bindings"]["r"]
    found = {key: values[0] for key, values in parts.items() if values}
    if "decision" not in found and not _only_system_packages(folder):
        return [f"no rule at {decision_path} (what PolicyKubeSpawner.opa_decision_path asks): every spawn would be "
                "refused; is the package jupyterhub.spawn, with a rule named decision?"], []
    if "problems" not in found:
        return [], []  # a policy of one's own without jhpolicy's data checks: OPA's check is all there is
    if not isinstance(found.get("jhpolicy"), dict):
        return ['its data has no "jhpolicy" object, so every allowance is empty and every spawn refused: '
                'data.json must be {"jhpolicy": {"groups": ..., "quotas": ..., "requesters": ...}}'], []
    errors, warned = group_name_problems(found["jhpolicy"])
    image_errors, image_warnings = image_pattern_problems(found["jhpolicy"])
    suggest = functools.partial(close_names.from_folder, opa, folder)
    errors = [*errors, *image_errors]
    warned = [*warned, *image_warnings, *unused_name_warnings(found["jhpolicy"], suggest)]
    if profile_slugs:
        warned += profile_pattern_warnings(opa, found["jhpolicy"], profile_slugs, suggest)
    listed = [f"data.jhpolicy: {problem}" for problem in [*sorted(found["problems"]), *errors]]
    return listed, [f"data.jhpolicy: {warning}" for warning in warned]


def _only_system_packages(folder: Path) -> bool:
    """A folder of OPA's own policies (package system.authz, system.log),
    such as helm-values/opa-authz: it decides no spawn, and needs no rule to."""
    packages = {match.group(1) for path in folder.rglob("*.rego")
                for match in [re.search(r"^package\s+([\w.]+)", path.read_text(), re.M)] if match}
    return bool(packages) and all(p == "system" or p.startswith("system.") for p in packages)


def group_name_problems(data: object) -> tuple[list[str], list[str]]:
    """(errors, warnings) for the group names the data uses: names with
    leading or trailing whitespace cannot match a JupyterHub group as
    written; names that differ only by case from another are suspicious."""
    named: dict[str, str] = {}
    for name in _part(data, "groups"):
        named.setdefault(name, f"groups.{name!r}")
    for name in _part(data, "quotas", "groups"):
        named.setdefault(name, f"quotas.groups.{name!r}")
    for name in _part(data, "quotas", "charge_order", kind=list):
        if isinstance(name, str):
            named.setdefault(name, f"quotas.charge_order {name!r}")
    errors = [f"{where}: the group name has leading or trailing whitespace, so it matches no JupyterHub group as "
              f"written (did you mean {name.strip()!r}?)" for name, where in named.items() if name != name.strip()]
    by_case: dict[str, list[str]] = {}
    for name in named:
        by_case.setdefault(name.strip().casefold(), []).append(name)
    warned = [f"group names {', '.join(repr(n) for n in sorted(names))} differ only by case: JupyterHub's group "
              "names are case-sensitive, so they are different groups" for names in by_case.values() if len(set(names)) > 1]
    return errors, warned


def image_pattern_problems(data: object) -> tuple[list[str], list[str]]:
    """(errors, warnings) for the allowances' `images` patterns and
    `image_repositories` entries. The data checks accept any list of strings
    there: an entry that can never match only allows nothing, so a spawn is
    never let through by one, but the image the admin meant is refused
    without a word. Errors: what no image reference can match as written
    (whitespace, which no request's image may hold; a repository written
    with a tag, a digest or a glob, which is looked up as written).
    Warnings: a pattern with no tag (it matches only the image asked for
    without one) and capital letters in a repository's path (Kubernetes
    refuses such an image: "repository name must be lowercase")."""
    errors: list[str] = []
    warned: list[str] = []
    for name, entry in _allowances(data):
        for pattern in _part(entry, "images", kind=list):
            if not isinstance(pattern, str):
                continue  # the data checks name it
            where = f"{name}: images {pattern!r}"
            if spaced := _spaced(pattern):
                errors.append(f"{where} {spaced}")
                continue
            last = pattern.rsplit("/", 1)[-1]
            if not any(c in last for c in ":@*?[{"):
                warned.append(f"{where} has no tag, so it allows that image only when asked for without one; "
                              f"for every tag, write {pattern + ':*'!r}")
            if _capitals_in_path(_repository_of(pattern)):
                warned.append(f"{where} has capital letters in its repository's path: Kubernetes pulls no such image "
                              "(repository names are lowercase)")
        for repository, tags in _part(entry, "image_repositories").items():
            where = f"{name}: image_repositories {repository!r}"
            problem = _repository_key_problem(repository)
            if problem:
                errors.append(f"{where} {problem}")
            elif _capitals_in_path(repository):
                warned.append(f"{where} has capital letters in its path: Kubernetes pulls no such image "
                              "(repository names are lowercase)")
            for tag in _part(tags, kind=list):
                if isinstance(tag, str) and (spaced := _spaced(tag, "tag")):
                    errors.append(f"{where}: tag glob {tag!r} {spaced}")
    return errors, warned


def unused_name_warnings(data: object, suggest: Suggest) -> list[str]:
    """Names that settings use but nothing else in the data has, most likely
    typos: a group in quotas.charge_order with neither an allowance nor a
    quota in the data (it may have a jhpolicy_quota property, which lint
    cannot see), and an extended resource a lifetime rule or a quota names
    that no allowance grants (a decision refuses any amount of a resource no
    allowance of the user's grants, so no server holds one: the setting
    never applies). Each with the names one typo away, as `suggest` (the
    policy's close_keys, close_names.py) gives them."""
    groups, quota_groups = _part(data, "groups"), _part(data, "quotas", "groups")
    granted = {name for _, entry in _allowances(data) for name in _part(entry, "extra_resources")}
    # Each: the name, the names it may be meant for, and its text given those one typo away.
    found: list[tuple[str, set[str], Callable[[list[str]], str]]] = []
    for group in _part(data, "quotas", "charge_order", kind=list):
        if isinstance(group, str) and group == group.strip() and group not in groups and group not in quota_groups:
            found.append((group, {*groups, *quota_groups}, functools.partial(_charge_order_text, group)))
    settings = [("lifetimes.extra_resources", _part(data, "lifetimes", "extra_resources"), "the rule never applies"),
                *((f"{path}.extra_resources", _part(quota, "extra_resources"), "the quota limits nothing")
                  for path, quota in _quota_scopes(data))]
    for path, resources, meaning in settings:
        for resource in resources:
            if resource not in granted:
                found.append((resource, granted, functools.partial(_ungranted_text, f"{path}.{resource}", resource,
                                                                    meaning, granted)))
    close = suggest([(name, known) for name, known, _ in found])
    return [text(names) for (_, _, text), names in zip(found, close)]


def _charge_order_text(group: str, close: list[str]) -> str:
    return (f"quotas.charge_order names {group!r}, which neither groups nor quotas.groups has: it orders nothing "
            "unless that group's quota is a jhpolicy_quota property (admin page); "
            + (close_names.did_you_mean(close) if close else "a typo?"))


def _ungranted_text(where: str, resource: str, meaning: str, granted: set[str], close: list[str]) -> str:
    return (f"{where}: no allowance grants {resource}, so no server holds it and {meaning} "
            f"({_with_close(close)}granted: {', '.join(sorted(granted)) or 'none'})")


def _with_close(close: list[str]) -> str:
    """"did you mean x? " before a list of candidates, where some is one typo away."""
    return f"{close_names.did_you_mean(close, quote=False)} " if close else ""


def _quota_scopes(data: object):
    """(path, quota) of every quota data.jhpolicy.quotas can hold ({} where
    there is none or it is not an object)."""
    quotas = _part(data, "quotas")
    for scope in ("users", "hub"):
        yield f"quotas.{scope}", _part(quotas, scope)
    for group, quota in _part(quotas, "groups").items():
        for scope in ("member", "group"):
            yield f"quotas.groups.{group}.{scope}", _part(quota, scope)


def profile_pattern_warnings(opa: str, data: object, slugs: list[str], suggest: Suggest) -> list[str]:
    """Each allowance's `profiles` pattern that matches none of the hub's
    profile slugs: its members can select none of what the admin meant (a
    slug KubeSpawner made from a display name, "Medium (2 CPUs)" ->
    "medium-2-cpus", or a capital letter, say), with the slugs one typo
    away. Matched by OPA, as the policy matches them (profiles.rego)."""
    named = [(name, pattern) for name, entry in _allowances(data)
             for pattern in _part(entry, "profiles", kind=list) if isinstance(pattern, str)]
    patterns = sorted({pattern for _, pattern in named})
    query = 'x := [p | some p in input.patterns; count([s | some s in input.slugs; glob.match(p, ["/"], s)]) == 0]'
    try:
        done = subprocess.run([opa, "eval", "--format=json", "--stdin-input", query], capture_output=True, text=True,
                              timeout=120, input=json.dumps({"patterns": patterns, "slugs": slugs}))
    except OSError as e:
        raise LintError(f"cannot run {opa}: {e}") from None
    if done.returncode != 0:
        raise LintError(f"opa could not match the profile patterns: {' '.join(_opa_errors(done))}")
    unmatched = sorted(set(json.loads(done.stdout)["result"][0]["bindings"]["x"]))
    close = dict(zip(unmatched, suggest([(pattern, slugs) for pattern in unmatched])))
    slugs_text = ", ".join(slugs)
    return [f"{name}: profiles {pattern!r} matches none of the hub's profiles, so it lets its members select nothing "
            f"({_with_close(close[pattern])}profile_list slugs: {slugs_text})"
            for name, pattern in named if pattern in close]


def _allowances(data: object):
    """(name, entry) of every allowance in the data, named as the data checks name them."""
    for group, entry in _part(data, "groups").items():
        if isinstance(entry, dict):
            yield f"group {group}", entry
    if isinstance(_part(data, "requesters").get("admins"), dict):
        yield "admins", data["requesters"]["admins"]
    for service, entry in _part(data, "requesters", "services").items():
        if isinstance(entry, dict):
            yield f"service {service}", entry


def _part(value: object, *keys: str, kind: type = dict):
    """value[keys[0]][keys[1]]..., where each step is an object and the last
    is a `kind` (dict or list); else an empty one. The data checks name what
    is malformed: here it only has nothing to read."""
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, kind) else kind()


def _spaced(value: str, what: str = "image") -> str | None:
    """What whitespace in a reference or glob means, if it has some: it can
    match no image (no request's image may hold any), with it taken out."""
    if any(c.isspace() for c in value):
        return f"has whitespace, so it matches no {what} (did you mean {''.join(value.split())!r}?)"
    return None


def _repository_key_problem(repository: str) -> str | None:
    """Why an image_repositories key matches no image, if it cannot: the policy
    looks the image's repository (the reference without its tag) up as written."""
    if spaced := _spaced(repository):
        return spaced
    if "@" in repository:
        return "has a digest, so it matches no image: a reference with a digest is matched by images patterns only"
    if any(c in repository for c in "*?[{"):
        return (f"is a glob, but repositories are looked up as written, so it matches no image: "
                f"put {repository + ':*'!r} in images instead")
    if ":" in repository.rsplit("/", 1)[-1]:
        bare, tag = repository.rsplit(":", 1)
        return (f"has a tag, so it matches no image: write the repository alone and its tags in the list "
                f"({bare!r}: [{tag!r}])")
    return None


def _repository_of(pattern: str) -> str:
    """A reference or pattern without its digest and tag."""
    bare = pattern.split("@", 1)[0]
    head, _, last = bare.rpartition("/")
    return f"{head}/{last.split(':', 1)[0]}" if head else last.split(":", 1)[0]


def _capitals_in_path(repository: str) -> bool:
    """Capital letters in a repository's path, outside a glob's [...] classes.
    The first part is the registry (case does not matter there) when it has
    a "." or ":", is "localhost" or has capitals, as Docker reads references."""
    parts = re.sub(r"\[[^\]]*\]", "", repository).split("/")
    if len(parts) > 1 and (any(c in parts[0] for c in ".:") or parts[0] == "localhost" or parts[0] != parts[0].lower()):
        parts = parts[1:]
    return any(part != part.lower() for part in parts)


def _opa_errors(done: subprocess.CompletedProcess) -> list[str]:
    """OPA's own words, one line each: file:row: what it could not load."""
    text = (done.stdout or done.stderr).strip()
    try:
        errors = json.loads(text)["errors"]
    except (ValueError, KeyError, TypeError):
        return [line for line in text.splitlines() if line.strip()] or [f"opa exited with {done.returncode}"]
    lines = []
    for error in errors:
        where = error.get("location") or {}
        prefix = f"{where['file']}:{where.get('row', 0)}: " if where.get("file") else ""
        lines.append(prefix + str(error.get("message", error)))
    return lines


def _run(command: list[str]) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=120)
    except OSError as e:
        raise LintError(f"cannot run {command[0]}: {e}") from None
