"""Mutation testing for the shipped Rego policy: would `opa test` notice a bug?

Each mutant changes one thing in one non-test .rego file under policies/:
a comparison flipped, min/max swapped, a `not` dropped, a rule-body line
deleted, a number changed, a glob delimiter emptied, true/false swapped.
Mutants that do not pass `opa check --strict` are dropped; every other one
is run with `opa test`, which must fail ("killed").

    python tests/rego_mutation.py OPA [--threshold 90]

Survivors that are equivalent (no input can tell them apart from the
original) are listed in policies/equivalent_mutants.txt, one per line:
`<file>: <original line> => <mutated line>  # why` (lines stripped). Exit 1 when fewer than the
threshold of compiling mutants are killed, or when a listed equivalent is
no longer a survivor (so the list stays honest as the policy changes).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
POLICIES = ROOT / "policies"
EQUIVALENTS = POLICIES / "equivalent_mutants.txt"

SWAPS = [
    (" == ", " != "), (" != ", " == "),
    (" < ", " <= "), (" <= ", " < "), (" > ", " >= "), (" >= ", " > "),
    (" < ", " > "), (" > ", " < "),
    ("min(", "max("), ("max(", "min("),
    ('["/"]', "[]"),
    ("true", "false"), ("false", "true"),
    (" | ", " & "),
]
NUMBER = re.compile(r"(?<![\w.\"])(\d+)(?![\w.\"])")


def _code_part(line: str) -> str:
    """The line without string literals and comments, for deciding where to mutate."""
    return re.sub(r'"(?:\\.|[^"\\])*"|`[^`]*`', lambda m: "_" * len(m.group()), line.split("#", 1)[0])


def mutants(text: str):
    """(line number, mutated line) for every mutation of the file."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        code = _code_part(line)
        if not code.strip() or line.lstrip().startswith(("package", "import")):
            continue
        for old, new in SWAPS:
            start = 0
            while (at := code.find(old, start)) >= 0:
                yield i, line[:at] + new + line[at + len(old):]
                start = at + 1
        if "not " in code:
            at = code.index("not ")
            yield i, line[:at] + line[at + 4:]
        for match in NUMBER.finditer(code):
            value = int(match.group(1))
            yield i, line[: match.start()] + str(value + 1) + line[match.end():]
        # Delete a line of a rule body (indented, not a closing bracket).
        if line.startswith("\t") and code.strip() not in ("}", "]", ")", "})", "}]", "else := \"\"") and not code.rstrip().endswith(("{", "[", "(", ",")):
            yield i, ""


def run(opa: str, threshold: float) -> int:
    files = sorted(p for p in POLICIES.glob("*.rego") if not p.name.endswith("_test.rego"))
    listed = listed_equivalents()
    jobs = []
    for path in files:
        text = path.read_text()
        lines = text.split("\n")
        for i, mutated in mutants(text):
            jobs.append((path, i, lines[i], mutated, "\n".join(lines[:i] + [mutated] + lines[i + 1:])))

    def judge(job):
        path, _, _, _, mutated_text = job
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp) / "policies"
            shutil.copytree(POLICIES, copy)
            (copy / path.name).write_text(mutated_text)
            if subprocess.run([opa, "check", "--strict", str(copy)], capture_output=True).returncode != 0:
                return "invalid"
            # `opa test` prints a failed test as it ends: the first failure
            # kills the mutant, and the rest need not run. (-v would print
            # every test's trace: 0.7 MB a mutant, slower than running all.)
            with subprocess.Popen([opa, "test", str(copy)], stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True) as tested:
                for line in tested.stdout:
                    if ": FAIL" in line or ": ERROR" in line:
                        tested.kill()
                        return "killed"
                return "killed" if tested.wait() != 0 else "survived"

    with ThreadPoolExecutor(max_workers=4) as pool:
        verdicts = list(pool.map(judge, jobs))
    compiling = [(j, v) for j, v in zip(jobs, verdicts) if v != "invalid"]
    killed = sum(v == "killed" for _, v in compiling)
    survivors = {(j[0].name, j[2].strip(), j[3].strip()): j for j, v in compiling if v == "survived"}
    unexplained = sorted(key for key in survivors if key not in listed)
    stale = sorted(key for key in listed if key not in survivors)
    score = 100.0 * killed / len(compiling) if compiling else 100.0
    print(f"rego mutation: {len(jobs)} mutants, {len(compiling)} compile, {killed} killed ({score:.1f} %), "
          f"{len(survivors)} survived ({len(survivors) - len(unexplained)} listed as equivalent)")
    for key in unexplained:
        print(f"  survived: {key[0]}:{survivors[key][1] + 1}: {key[1]} => {key[2]}")
    for name, original, mutated in stale:
        print(f"  listed as equivalent but killed or gone: {name}: {original} => {mutated}")
    ok = score >= threshold and not stale
    if not ok:
        print(f"rego mutation: FAILED (need {threshold:.0f} % killed and no stale equivalents)")
    return 0 if ok else 1


def listed_equivalents(path: Path = EQUIVALENTS) -> dict[tuple[str, str, str], str]:
    """(where, original, mutated) -> why, from `<where>: <original> => <mutated>  # why` lines."""
    listed = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            change, why = line.rsplit("  # ", 1)
            where, diff = change.split(": ", 1)
            original, mutated = diff.split(" => ", 1)
            listed[(where, original.strip(), mutated.strip())] = why
    return listed


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("opa")
    parser.add_argument("--threshold", type=float, default=90.0)
    args = parser.parse_args()
    sys.exit(run(args.opa, args.threshold))
