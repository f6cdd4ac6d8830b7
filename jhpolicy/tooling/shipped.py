"""Files that ship with jhpolicy: where the wheel puts them (pyproject.toml,
[tool.hatch.build.targets.wheel.force-include]), else where a source
checkout has them."""

from __future__ import annotations

from pathlib import Path

# The jhpolicy package's own folder (this module is in jhpolicy/tooling/).
PACKAGE = Path(__file__).resolve().parents[1]


def shipped(in_wheel: str, in_checkout: str | None = None) -> Path | None:
    """`jhpolicy/<in_wheel>` of an installation, else `<in_checkout>` (default:
    the same path) of the checkout this package sits in; None if neither exists."""
    for candidate in (PACKAGE / in_wheel, PACKAGE.parent / (in_checkout or in_wheel)):
        if candidate.exists():
            return candidate
    return None
