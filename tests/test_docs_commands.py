"""What the docs show a command printing is what it prints (issue #29 item 10).

Every ```console block in docs/ and README.md whose commands are
`jhpolicy ...` (with `$ cat FILE` showing a file it reads, and `$ echo $?`
its exit code) runs here, in a fresh folder, with the shipped policies, and
its output is compared line by line. In the docs, `…` stands for text left
out: a line that is only `…` matches any lines, and `…` within a line any
characters.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys

import pytest

from .helpers.policies import ROOT

# The `jhpolicy` command runs where the admin installs it (pip's newest JupyterHub
# and KubeSpawner), not in the hub: one version set (conftest.py, ONCE).
pytestmark = pytest.mark.once

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def console_blocks():
    """One param per page: its blocks run in order in one folder, as a
    reader follows the page (a file one block shows, a later one reads)."""
    for page in PAGES:
        if "_build" in page.parts:
            continue
        blocks = [m.group(1) for m in re.finditer(r"```console\n(.*?)```", page.read_text(), re.S)]
        blocks = [b for b in blocks if re.search(r"^\$ (\.venv/bin/)?jhpolicy ", b, re.M)]
        if blocks:
            yield pytest.param(blocks, id=str(page.relative_to(ROOT)))


def steps(block: str) -> list[tuple[str, list[str]]]:
    """[(command, the lines shown after it)]."""
    found: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            found.append((line[2:], []))
        elif found:
            found[-1][1].append(line)
    return found


def matches(shown: list[str], printed: list[str]) -> bool:
    if not shown:
        return not printed
    if shown[0].strip() == "…":
        return any(matches(shown[1:], printed[i:]) for i in range(len(printed) + 1))
    if not printed:
        return False
    pattern = ".*".join(re.escape(part) for part in shown[0].split("…"))
    return re.fullmatch(pattern, printed[0]) is not None and matches(shown[1:], printed[1:])


@pytest.mark.opa  # the commands start OPA
@pytest.mark.parametrize("blocks", list(console_blocks()))
def test_the_commands_print_what_the_docs_show(blocks, tmp_path):
    status = 0
    for command, shown in (step for block in blocks for step in steps(block)):
        if command.startswith("cat "):
            (tmp_path / command[4:].strip()).write_text("\n".join(shown) + "\n")
            continue
        if command == "echo $?":
            assert shown == [str(status)], (command, shown, status)
            continue
        words = shlex.split(command)
        assert words[0] in ("jhpolicy", ".venv/bin/jhpolicy"), f"a command the test cannot run: {command}"
        done = subprocess.run([sys.executable, "-m", "jhpolicy.cli", *words[1:]], cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)
        status = done.returncode
        printed = (done.stdout + done.stderr).splitlines()
        assert matches(shown, printed), "\n".join([f"$ {command}", "docs show:", *shown, "it printed:", *printed])
