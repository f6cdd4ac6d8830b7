"""Report a finished `mutmut run` (./dev mutate): the score, with the
surviving mutants that are equivalent set apart.

Equivalent survivors (no behaviour can tell them apart from the original)
are listed in tests/python_equivalent_mutants.txt, one per line:
`<module>: <original line> => <mutated line>  # why` (lines stripped, as
`mutmut show` prints them). Every other survivor is printed with its diff.
Exit 1 when fewer than the threshold of the mutants reached by a test are
killed once the listed equivalents are set apart, or when a listed
equivalent is no longer a survivor (so the list stays honest).

    python tests/python_mutation_report.py MUTMUT [--threshold 90]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rego_mutation import listed_equivalents  # noqa: E402  (one format for both lists)

EQUIVALENTS = Path(__file__).resolve().parent / "python_equivalent_mutants.txt"


def results(mutmut: str) -> dict[str, str]:
    """Mutant name -> status, as `mutmut results --all true` prints them."""
    out = subprocess.run([mutmut, "results", "--all", "true"], capture_output=True, text=True, check=True).stdout
    found = {}
    for line in out.splitlines():
        if ": " in line:
            name, status = line.strip().split(": ", 1)
            found[name] = status
    return found


def change(mutmut: str, name: str) -> tuple[str, str, str]:
    """(module, original line, mutated line) of one mutant."""
    diff = subprocess.run([mutmut, "show", name], capture_output=True, text=True, check=True).stdout
    removed = [l[1:].strip() for l in diff.splitlines() if l.startswith("-") and not l.startswith("---")]
    added = [l[1:].strip() for l in diff.splitlines() if l.startswith("+") and not l.startswith("+++")]
    module = name.split(".")[1]
    return module, " / ".join(removed), " / ".join(added)


def main(mutmut: str, threshold: float) -> int:
    statuses = results(mutmut)
    counts = Counter(statuses.values())
    listed = listed_equivalents(EQUIVALENTS)
    equivalent, unexplained = [], []
    for name, status in sorted(statuses.items()):
        if status != "survived":
            continue
        key = change(mutmut, name)
        (equivalent if key in listed else unexplained).append((name, key))
    stale = set(listed) - {key for _, key in equivalent}
    killed = counts["killed"]
    reached = killed + counts["survived"] + counts["timeout"] + counts["suspicious"]
    score = 100 * killed / max(reached - len(equivalent), 1)
    print(
        f"python mutation: {len(statuses)} mutants, {reached} reached by a test, {killed} killed, "
        f"{counts['survived']} survived ({len(equivalent)} listed as equivalent), "
        f"{counts['timeout']} timed out, {counts['no tests']} reached by no test; "
        f"score {score:.1f} % of the non-equivalent reached ({100 * killed / max(reached, 1):.1f} % counting equivalents)"
    )
    for name, (module, original, mutated) in unexplained:
        print(f"  survived: {name}: {module}: {original} => {mutated}")
    for module, original, mutated in sorted(stale):
        print(f"  listed as equivalent but killed or gone: {module}: {original} => {mutated}")
    ok = score >= threshold and not stale
    if not ok:
        print(f"python mutation: FAILED (need {threshold:.0f} % killed and no stale equivalents)")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mutmut")
    parser.add_argument("--threshold", type=float, default=90.0)
    args = parser.parse_args()
    sys.exit(main(args.mutmut, args.threshold))
