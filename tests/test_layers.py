"""Every top-level module and subpackage of the package is in one of the
layers that import-linter checks (.importlinter, run by ./dev test): a new
one must be placed."""

from __future__ import annotations

import configparser

from .helpers.policies import ROOT


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


def test_no_test_module_imports_another_or_conftest():
    """Shared code lives in tests/helpers, tests/e2e and tests/kube."""
    import ast

    offenders = []
    for path in sorted((ROOT / "tests").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                name = node.module.split(".")[-1] if node.level else node.module.removeprefix("tests.")
                if name.startswith("test_") or name == "conftest":
                    offenders.append(f"{path.name}:{node.lineno} imports {name}")
    assert offenders == []
