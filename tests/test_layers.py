"""Every module of the package is in one of the layers that import-linter
checks (.importlinter, run by ./dev test): a new module must be placed."""

from __future__ import annotations

import configparser

from .fixture_policies import ROOT


def test_every_module_is_in_a_layer():
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    layers = config["importlinter:contract:layers"]["layers"].split()
    named = [m for m in layers if m not in (":", "|")]
    package = ROOT / "jhpolicy"
    modules = {f"jhpolicy.{p.stem}" for p in package.glob("*.py") if p.stem != "__init__"}
    modules |= {f"jhpolicy.{p.parent.name}" for p in package.glob("*/__init__.py")}
    assert sorted(modules - set(named)) == []
    assert sorted(set(named) - modules) == []  # and no layer names a module that is gone
    assert len(named) == len(set(named))
