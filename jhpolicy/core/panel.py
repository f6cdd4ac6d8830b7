"""The spawn page's allowance panel: the policy's allowance view in words.

Plain HTML above KubeSpawner's profile form (readable without JavaScript):
what the user may launch, how much of each quota that applies to them is
in use, and the profiles they may not pick, shown disabled with the reason
rather than left out without a word. Everything from the view is escaped.
"""

from __future__ import annotations

from html import escape

from .lifetime import stops_text
from .quantities import cpu_shown, memory_shown, number_text

EXTRA_NAMES = {"nvidia.com/gpu": ("GPU", "GPUs"), "amd.com/gpu": ("GPU", "GPUs")}

# The panel's few rules: dark text on a light background (contrast well
# above 4.5:1), a visible border, no colour that carries meaning alone.
STYLE = (
    ".jhpolicy-allowance{border:1px solid #5a6270;border-radius:4px;padding:.75rem 1rem;margin-bottom:1rem;"
    "background:#f4f6f8;color:#1b1f24}.jhpolicy-allowance h2{font-size:1.15rem;margin:0 0 .5rem}"
    ".jhpolicy-allowance ul{margin:0 0 .5rem 1.2rem;padding:0}.jhpolicy-allowance .jhpolicy-none-left{font-weight:bold}"
    ".jhpolicy-unavailable label{color:#3d434c;opacity:1}"
)


def amount(resource: str, n: float) -> str:
    """An amount as people write it: "2 CPUs", "4G memory", "1 GPU"."""
    if resource.startswith("mem_"):
        return _of(resource, n) + " memory"
    if resource.startswith("cpu_"):
        return f"{_of(resource, n)} CPU" + ("" if n == 1 or n < 1 else "s")
    if resource == "servers":
        return f"{_of(resource, n)} server" + ("" if n == 1 else "s")
    one, many = EXTRA_NAMES.get(resource, (resource, resource))
    return f"{_of(resource, n)} {one if n == 1 else many}"


def _bytes(n: float) -> str:
    # As the policy's messages show it, so the panel and a refusal agree;
    # below 1K with its unit, which a message's key makes plain.
    shown = memory_shown(n)
    return shown if n >= 2**10 else f"{shown} bytes"


def _what(resource: str) -> str:
    """The kind of a quota amount, for "3 of 4 GPUs in use"."""
    return {
        "cpu_limit": "CPUs (limits)", "cpu_guarantee": "CPUs (guaranteed)",
        "mem_limit": "memory (limits)", "mem_guarantee": "memory (guaranteed)", "servers": "servers",
    }.get(resource, EXTRA_NAMES.get(resource, (resource, resource))[1])


def _of(resource: str, n: float) -> str:
    """The number of an amount, as the policy's messages show it."""
    if resource.startswith("cpu_"):
        return cpu_shown(n)
    return _bytes(n) if resource.startswith("mem_") else number_text(n)


def quota_line(row: dict) -> str:
    what, used, quota = _what(row["resource"]), _of(row["resource"], row["in_use"]), _of(row["resource"], row["quota"])
    if row["scope"] == "user":
        text = f"You hold {used} of your {quota} {what}"
    elif row["scope"] == "member":
        text = f"You hold {used} of the {quota} {what} each member of {row['group']} may hold"
    elif row["scope"] == "group":
        text = f"{what[0].upper() + what[1:]}: {used} of {quota} in use in {row['group']}"
    else:
        text = f"{what[0].upper() + what[1:]}: {used} of {quota} in use across the hub"
    if row["left"] <= 0:
        return f'{escape(text)}: <span class="jhpolicy-none-left">none left</span>'
    return escape(f"{text} ({_of(row['resource'], row['left'])} left)")


def limits_line(view: dict) -> str:
    most = view["max"]
    parts = [amount(key, most[key]) for key in ("cpu_limit", "mem_limit") if key in most]
    guaranteed = [amount(key, most[key]) for key in ("cpu_guarantee", "mem_guarantee") if key in most]
    text = "Up to " + " and ".join(parts) + " per server" if parts else "No CPU or memory of your choosing"
    if guaranteed:
        text += " (guaranteed: up to " + ", ".join(guaranteed) + ")"
    return escape(text)


def images_line(view: dict) -> str:
    shown = ", ".join(view["images"])
    more = view["images_total"] - len(view["images"])
    repositories = view["repositories_total"]
    text = "Images: " + (shown or "none listed")
    if more > 0:
        text += f" and {more} more"
    if repositories:
        text += f"; and {repositories} listed repositor{'y' if repositories == 1 else 'ies'}"
    return escape(text)


def lifetime_lines(view: dict) -> list[str]:
    """"Servers stop after 6 h idle (group students), …", then one line per
    extended resource whose servers have lifetimes of their own."""
    lifetimes = view.get("lifetimes") or {}
    lines = []
    if lifetimes.get("servers"):
        lines.append(escape("Servers stop " + stops_text(lifetimes["servers"])))
    for name, lifetime in sorted((lifetimes.get("extra_resources") or {}).items()):
        if lifetime:
            lines.append(escape(f"Servers with {_what(name)} stop " + stops_text(lifetime)))
    return lines


def help_link(help: dict | None) -> str:
    """ " Ask for more GPU time" as a link where the data gives a URL (the
    decision's contract checked it: http(s), no quotes or brackets)."""
    if not help:
        return ""
    if help.get("url"):
        return f' <a href="{escape(help["url"])}">{escape(help["text"])}</a>'
    return f" {escape(help['text'])}"


def render(view: dict, unavailable: list[tuple[str, str, dict | None]] = (), notes: list[str] = ()) -> str:
    """The panel for `view` (jhpolicy.core.allowance.validate's output), the
    profiles the user may not pick, as (display name, reason, help), and
    notes on what the page could not judge beforehand."""
    out = [f"<style>{STYLE}</style>",
           '<section class="jhpolicy-allowance" aria-labelledby="jhpolicy-allowance-title">',
           '<h2 id="jhpolicy-allowance-title">What you may launch</h2>']
    if not view.get("available"):
        out.append(f'<p role="status">{escape(view.get("message", ""))}</p>')
    else:
        items = [limits_line(view)]
        items += [escape(f"{_what(name)}: up to {number_text(n)} per server") for name, n in sorted(view["extra_resources"].items())]
        items.append(images_line(view))
        items += lifetime_lines(view)
        out.append("<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>")
        if view["quotas"]:
            out.append('<h3 class="h6">In use now</h3><ul>'
                       + "".join(f"<li>{quota_line(row)}</li>" for row in view["quotas"]) + "</ul>")
        out.append(f'<p class="small">From: {escape(", ".join(view["sources"]))}.</p>')
    if unavailable:
        out.append('<fieldset class="jhpolicy-unavailable" disabled><legend class="h6">Not available to you</legend>')
        for i, (name, reason, help) in enumerate(unavailable):
            out.append(
                f'<div><input type="radio" disabled id="jhpolicy-unavailable-{i}" name="jhpolicy-unavailable-profile" '
                f'aria-describedby="jhpolicy-unavailable-{i}-why"> <label for="jhpolicy-unavailable-{i}">{escape(name)}</label> '
                f'<span id="jhpolicy-unavailable-{i}-why">({escape(reason)})</span>{help_link(help)}</div>'
            )
        out.append("</fieldset>")
    out += [f'<p class="small jhpolicy-note">{escape(note)}</p>' for note in notes]
    out.append("</section>")
    return "".join(out)
