"""Reference pages generated from the code, so that they cannot drift from it.

- ``jhpolicy-config``: PolicyKubeSpawner's own configurable traits (PolicySettings'), through
  autodoc-traits (their ``help`` is the one source).
- ``jhpolicy-cli``: every ``jhpolicy`` subcommand's ``--help``, from the parser.
- ``jhpolicy-metrics``: the Prometheus metrics jhpolicy registers.
- ``jhpolicy-data-schema``: the data format, from jhpolicy/data.schema.json.
- ``jhpolicy-rego``: the policy's entry points and library packages, from
  their METADATA as OPA reads it (``opa inspect -a``).
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import pkgutil
import re
import subprocess
from importlib import resources
from pathlib import Path

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles


class _Generated(SphinxDirective):
    def rst(self) -> list[str]:
        raise NotImplementedError

    def run(self) -> list[nodes.Node]:
        container = nodes.container()
        nested_parse_with_titles(self.state, StringList(self.rst(), source=f"<{self.name}>"), container)
        return container.children


class ConfigDirective(_Generated):
    def rst(self) -> list[str]:
        from jhpolicy.hub.settings import PolicySettings
        from jhpolicy.spawner import PolicyKubeSpawner

        # jhpolicy's traits are PolicySettings', which PolicyKubeSpawner inherits.
        own = set(PolicySettings.class_traits(config=True))
        # autodoc-traits adds every configurable trait, inherited ones too:
        # KubeSpawner's are documented by KubeSpawner.
        inherited = sorted(set(PolicyKubeSpawner.class_traits(config=True)) - own)
        return [
            ".. autoconfigurable:: jhpolicy.spawner.PolicyKubeSpawner",
            "   :members: " + ", ".join(sorted(own)),
            "   :exclude-members: " + ", ".join(inherited),
            "",
        ]


def _subcommands(parser: argparse.ArgumentParser):
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    helps = {a.dest: a.help for a in action._choices_actions}
    for name, sub in action.choices.items():
        yield name, helps.get(name, ""), sub


class CliDirective(_Generated):
    def rst(self) -> list[str]:
        from jhpolicy.cli import build_parser

        parser = build_parser()
        lines = []
        for name, summary, sub in _subcommands(parser):
            title = f"``jhpolicy {name}``"
            lines += [title, "-" * len(title), "", (summary or "").capitalize() + ".", "", ".. code-block:: text", ""]
            lines += ["   " + line for line in sub.format_help().rstrip().splitlines()]
            lines += [""]
        return lines


class MetricsDirective(_Generated):
    def rst(self) -> list[str]:
        lines = [".. list-table::", "   :header-rows: 1", "", "   * - metric", "     - type", "     - labels", "     - meaning"]
        for name, kind, labels, doc in sorted(_metrics()):
            shown = ", ".join(f"``{label}``" for label in labels) or "—"
            lines += [f"   * - ``{name}``", f"     - {kind}", f"     - {shown}", f"     - {_escape(doc)}"]
        return lines + [""]


def _metrics():
    """(exposed name, type, labels, help) of every metric a jhpolicy module defines."""
    from prometheus_client.metrics import MetricWrapperBase

    import jhpolicy

    found = {}
    for info in pkgutil.walk_packages(jhpolicy.__path__, "jhpolicy."):
        if info.name.endswith(".__main__"):
            continue  # running the command is not defining metrics
        module = importlib.import_module(info.name)
        for obj in vars(module).values():
            if isinstance(obj, MetricWrapperBase):
                suffix = "_total" if obj._type == "counter" else ""
                found[obj._name + suffix] = (obj._type, tuple(obj._labelnames), obj._documentation)
            elif type(obj).__module__ == info.name and callable(getattr(obj, "collect", None)):
                for family in obj.collect():  # a custom collector, e.g. jhpolicy_usage
                    found[family.name] = (family.type, tuple(getattr(family, "_labelnames", ())), family.documentation)
    return [(name, *rest) for name, rest in found.items()]


def _escape(text: str) -> str:
    """Markdown-style `code` in help and schema text as RST literals."""
    return re.sub(r"`([^`]+)`", r"``\1``", text.replace("*", r"\*"))


class DataSchemaDirective(_Generated):
    def rst(self) -> list[str]:
        schema = json.loads(resources.files("jhpolicy").joinpath("data.schema.json").read_text())
        defs = schema["$defs"]
        lines = [_escape(schema["description"]), ""]
        lines += _object_rst("data.jhpolicy", schema, defs)
        for name in ("allowance", "quota"):
            lines += _object_rst(f"an {name}" if name[0] in "aeiou" else f"a {name}", defs[name], defs)
        lines += _object_rst("an allowance's max", defs["allowance"]["properties"]["max"], defs)
        return lines


def _type_of(spec: dict, defs: dict) -> str:
    if "$ref" in spec:
        name = spec["$ref"].rsplit("/", 1)[1]
        target = defs[name]
        if name in ("allowance", "quota"):
            return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"
        return _escape(target.get("description", name))
    if spec.get("type") == "array":
        return f"list of {spec['items']['type']}s"
    if spec.get("type") == "object" and "additionalProperties" in spec and isinstance(spec["additionalProperties"], dict):
        return "object: name → " + _type_of(spec["additionalProperties"], defs)
    return spec.get("type", "")


def _object_rst(title: str, spec: dict, defs: dict) -> list[str]:
    lines = [title, "-" * len(title), ""]
    if spec.get("description") and title != "data.jhpolicy":
        lines += [_escape(spec["description"]), ""]
    lines += [".. list-table::", "   :header-rows: 1", "", "   * - key", "     - value", "     - meaning"]
    for key, sub in spec.get("properties", {}).items():
        meaning = sub.get("description", "")
        lines += [f"   * - ``{key}``", f"     - {_type_of(sub, defs)}", f"     - {_escape(meaning) or '—'}"]
    lines += ["", "Any other key is refused." if spec.get("additionalProperties") is False else "", ""]
    return lines


POLICIES = Path(__file__).resolve().parents[2] / "policies"


class RegoDirective(_Generated):
    """The shipped policy's packages: the entry points (rules whose METADATA
    says ``entrypoint: true``), then each step of the decision in the order
    it builds one, then the library packages; every documented rule with the
    head it is called by."""

    def rst(self) -> list[str]:
        from jhpolicy.tooling.opa_binary import ensure_opa

        shown = subprocess.run([ensure_opa(), "inspect", "-a", "--format", "json", str(POLICIES)],
                               check=True, capture_output=True, text=True).stdout
        annotated = [a for a in json.loads(shown).get("annotations", [])
                     if not a["location"]["file"].endswith("_test.rego")]
        packages: dict[str, dict] = {}
        for a in annotated:
            if a["annotations"]["scope"] == "package":
                packages.setdefault(_path(a["path"]), {"rules": []})["doc"] = a
        for a in annotated:
            if a["annotations"]["scope"] != "package":
                # A rule's package: the longest documented package its path is
                # in (a rule with a constant key, entries["admins"], has a longer path).
                path = _path(a["path"])
                package = max((p for p in packages if path.startswith(p + ".")), key=len, default=path.rsplit(".", 1)[0])
                packages.setdefault(package, {"rules": []})["rules"].append(a)
        lines = []
        depth = _step_depths()
        for package in sorted(packages, key=lambda p: (_kind(p), depth.get(p.rsplit(".", 1)[-1], 0) if _kind(p) == 1 else 0, p)):
            entry = packages[package]
            doc = entry.get("doc", {}).get("annotations", {})
            kind = ["entry points", "a step of the decision", "library"][_kind(package)]
            title = f"``{package}`` ({kind})"
            lines += [title, "-" * len(title), ""]
            if doc.get("title"):
                lines += [f"**{_escape(doc['title'])}**", ""]
            if doc.get("description"):
                lines += [_escape(doc["description"].strip()), ""]
            for rule in sorted(entry["rules"], key=lambda a: a["annotations"].get("title", "")):
                if _kind(package) == 0 and not rule["annotations"].get("entrypoint"):
                    continue  # the entry package documents its entry points only
                lines += [f"``{_head(rule)}``", ""]
                lines += ["   " + line for line in _escape(rule["annotations"].get("description", "").strip()).splitlines()]
                where = Path(rule["location"]["file"]).name
                lines += ["", f"   (``{where}``, line {rule['location']['row']})", ""]
        return lines


def _path(parts: list[dict]) -> str:
    return ".".join(str(part["value"]) for part in parts)


def _kind(package: str) -> int:
    """0: the entry package; 1: a step of the decision (jupyterhub.spawn.*); 2: the library."""
    return 2 if ".lib." in package else 0 if package.count(".") == 2 else 1


def _step_depths() -> dict[str, int]:
    """Each step's depth in the order they build a decision: one more than the
    deepest step it imports (given: 1), read from the files' imports."""
    texts = {p.stem: p.read_text() for p in POLICIES.glob("*.rego")}
    imports = {name: re.findall(r"^import data\.jupyterhub\.spawn\.(\w+)$", text, re.M)
               for name, text in texts.items() if re.search(r"^package jupyterhub\.spawn\.\w+$", text, re.M)}

    @functools.cache
    def depth(step: str) -> int:
        return 1 + max((depth(s) for s in imports[step]), default=0)

    return {step: depth(step) for step in imports}


@functools.cache
def _lines(file: str) -> list[str]:
    return Path(file).read_text().splitlines()


def _head(rule: dict) -> str:
    """The rule's head as written, up to its value: ``as_number(key, value)``."""
    line = _lines(rule["location"]["file"])[rule["location"]["row"] - 1]
    head = re.split(r"\s*(:=|=| if\b| contains\b|\{)", line, maxsplit=1)[0].strip()
    return head.removeprefix("default ")


def setup(app):
    app.add_directive("jhpolicy-config", ConfigDirective)
    app.add_directive("jhpolicy-cli", CliDirective)
    app.add_directive("jhpolicy-metrics", MetricsDirective)
    app.add_directive("jhpolicy-data-schema", DataSchemaDirective)
    app.add_directive("jhpolicy-rego", RegoDirective)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

