"""Benchmark 12's ablations (bench/policy_floor.py) time the shipped
decision with a step (quotas, lifetimes, the data checks) replaced by a
stand-in from bench/ablation/ that evaluates next to nothing. Their figures
mean something only while each stand-in answers benchmark 11's student input
as the step it replaces: checked here, on every change to the policy, so
that a change which makes a stand-in stale fails here and not unseen in a
benchmark."""

from __future__ import annotations

import json
import subprocess

import pytest

from jhpolicy.tooling.opa_binary import ensure_opa

from .helpers import bench

pytestmark = pytest.mark.opa  # it runs `opa eval`

floor = bench.load("policy_floor")

LABEL, VARIANT, PATH, INPUT = floor.INPUTS[0]


def _decide(folder, data_file, input_file):
    out = subprocess.run([ensure_opa(), "eval", "-d", str(folder), "-d", str(data_file), "-i", str(input_file),
                          "--format=json", "data." + PATH.replace("/", ".")], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)["result"][0]["expressions"][0]["value"]


@pytest.mark.parametrize("name", list(floor.ABLATIONS))
def test_an_ablation_decides_the_student_input_as_the_shipped_policy_does_for_fewer_expressions(name, tmp_path):
    data_file, input_file = tmp_path / "data.json", tmp_path / "input.json"
    data_file.write_text(json.dumps(floor.DATA[VARIANT]()))
    input_file.write_text(json.dumps(INPUT))
    checkout = floor.policy_folder(tmp_path, None)
    ablated = floor.ablation_folder(checkout, name, floor.ABLATIONS[name])

    shipped = _decide(checkout, data_file, input_file)
    assert shipped["allow"] is True and shipped["overrides"] == {"cpu_limit": 2, "cpu_guarantee": 1}
    assert _decide(ablated, data_file, input_file) == shipped
    assert floor.expressions(ablated, data_file, INPUT, PATH) < floor.expressions(checkout, data_file, INPUT, PATH)
