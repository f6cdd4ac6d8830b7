"""The benchmark scripts in bench/ as modules, for tests that run their data,
inputs or measuring code (they are scripts, not a package)."""

from __future__ import annotations

import importlib.util

from .policies import ROOT


def load(name: str):
    """bench/<name>.py, loaded as a module named `name`."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
