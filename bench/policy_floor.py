"""Benchmark 12: how far below the shipped policy a decision can go at all.

Benchmark 11's student input (one allowance applies, 8 CPUs asked) decided
by three policies, measured as benchmark 11 measures (bench/policy_eval.py):
bench/floor/floor.rego (with the library's quantities it reads amounts
with), the least any policy must evaluate for that input (the input's
version and keys, the applying allowance's data checked, the image against
its globs, each amount clamped with a message; nothing else);
the policy of an earlier commit (default b3240e7, issue #31's baseline); and
this checkout's. Beside OPA's evaluation time it prints the expressions each
evaluates (`opa eval --profile`), so that a target such as issue #31's "3x
lower than b3240e7" can be set against what the input costs at the least.

And what the checkout's steps cost this input: the checkout's decision with
a step's file (quotas, lifetimes, the data checks, or all three) replaced by
a stand-in from bench/ablation/ that answers as the step does here and
evaluates next to nothing. The decision must come out the same, whole; the
time saved is what the step's own rules cost this input (a redesign of
the step alone saves no more; one that changes how other steps read it may).
(The ablations leave out allowance_view.rego, which reads rules the
stand-ins do not have; the decision reads none of it.)
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from policy_eval import DATA, INPUTS, measure, policy_folder  # noqa: E402

from jhpolicy.tooling.opa_binary import ensure_opa  # noqa: E402

FLOOR = ROOT / "bench" / "floor"
ABLATION = ROOT / "bench" / "ablation"
# Each ablation: its label, and the steps (policies/<step>.rego) it replaces
# with their stand-ins in bench/ablation/.
ABLATIONS = {
    "without data checks": ["data_checks"],
    "without quotas": ["quotas"],
    "without lifetimes": ["lifetimes"],
    "without all three": ["data_checks", "quotas", "lifetimes"],
}
FLOOR_PATH = "floor/decision"
QUANTITIES = ROOT / "policies" / "lib_quantities.rego"


def profile_counts(folder: Path, data_file: Path, input_doc: dict, path: str) -> dict[str, int]:
    """What OPA's profiler counts to answer path, summed over the policy:
    num_eval (expressions evaluated) and num_redo (each evaluated again as a
    loop or a search moves to the next value)."""
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        json.dump(input_doc, f)
        f.flush()
        out = subprocess.run([ensure_opa(), "eval", "-d", str(folder), "-d", str(data_file), "-i", f.name,
                              "--profile", "--profile-limit", "100000", "--format=json", "data." + path.replace("/", ".")],
                             check=True, capture_output=True, text=True).stdout
    rows = json.loads(out)["profile"]
    return {key: sum(row[key] for row in rows) for key in ("num_eval", "num_redo")}


def expressions(folder: Path, data_file: Path, input_doc: dict, path: str) -> int:
    """The expressions OPA evaluates to answer path (its profiler's count)."""
    return profile_counts(folder, data_file, input_doc, path)["num_eval"]


def ablation_folder(checkout: Path, label: str, steps: list[str]) -> Path:
    """The checkout's policy folder's decision with each of steps replaced by its stand-in."""
    folder = checkout.parent / label.replace(" ", "-")
    shutil.copytree(checkout, folder)
    (folder / "allowance_view.rego").unlink()
    for step in steps:
        shutil.copy(ABLATION / f"{step}.rego", folder / f"{step}.rego")
    return folder


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", default="b3240e7", help="the git revision whose policy to compare with")
    parser.add_argument("--queries", type=int, default=1000)
    args = parser.parse_args()
    case = INPUTS[0]
    label, variant, path, input_doc = case
    with tempfile.TemporaryDirectory() as tmp:
        floor = Path(tmp) / "floor"
        floor.mkdir()
        for rego in (FLOOR / "floor.rego", QUANTITIES):
            shutil.copy(rego, floor)
        folders = {"floor": floor, "old": policy_folder(Path(tmp), args.old), "now": policy_folder(Path(tmp), None)}
        folders |= {name: ablation_folder(folders["now"], name, steps) for name, steps in ABLATIONS.items()}
        paths = {name: FLOOR_PATH if name == "floor" else path for name in folders}
        [(_, _, medians, answers)] = measure(folders, args.queries, [case], lambda name, _: paths[name])
        data_file = Path(tmp) / "data.json"
        data_file.write_text(json.dumps(DATA[variant]()))
        counts = {name: expressions(folder, data_file, input_doc, paths[name]) for name, folder in folders.items()}
    print(f"{label}: OPA's evaluation time (median of {args.queries} interleaved queries) and expressions evaluated")
    titles = {"floor": "bench/floor/floor.rego", "old": args.old, "now": "this checkout",
              **{name: f"  {name}" for name in ABLATIONS}}
    for name, title in titles.items():
        print(f"  {title:24} {medians[name]:8.1f} µs {counts[name]:6} expressions"
              f"  {medians['old'] / medians[name]:5.2f}x below {args.old}")
    same = all(answers[name][key] == answers["now"][key] for name in ("floor", "old") for key in ("allow", "overrides"))
    print(f"  the same allow and overrides from the floor, {args.old} and this checkout: {'yes' if same else 'NO'}")
    whole = all(answers[name] == answers["now"] for name in ABLATIONS)
    print(f"  each ablation's decision the same as this checkout's, whole: {'yes' if whole else 'NO'}")
    return 0 if same and whole else 1


if __name__ == "__main__":
    sys.exit(main())
