"""Shadow rollouts: a candidate decision path beside the live one, never applied.

Real OPA (the shipped policy live, contract-test rules as candidates), real
PolicyKubeSpawner objects, and the fault server for a candidate that hangs.
Each test waits for the comparison's own event, never for a fixed time.
"""

from __future__ import annotations

import logging

import pytest
from prometheus_client import REGISTRY
from traitlets.config import Config

from .helpers.faults import FaultServer
from .helpers.spawns import run_spawn

SAMPLE = "jupyterhub/k8s-singleuser-sample:0.8.4"
BODY = {"image": SAMPLE, "cpu_limit": 8}
WAIT = 60  # seconds; only a comparison that never happens gets near it
# opa_timeout for a hanging candidate: the most allowed, so it is still pending
# while a slow machine finishes the spawn (and the next one).
HUNG = 9.0


def shadow_config(path: str, url: str = "", timeout: float = 2.0) -> Config:
    c = Config()
    c.PolicyKubeSpawner.opa_shadow_decision_path = path
    c.PolicyKubeSpawner.opa_shadow_url = url
    c.PolicyKubeSpawner.opa_timeout = timeout
    return c


def counted(live, shadow, agree):
    return REGISTRY.get_sample_value(
        "jhpolicy_shadow_decisions_total", {"live": live, "shadow": shadow, "agree": agree}
    ) or 0.0


def compared(r):
    assert r.spawner.policy_shadow.done.wait(WAIT), "the shadow comparison never finished"
    return r.spawner.policy_shadow


def shadow_lines(caplog):
    return [m for m in caplog.messages if m.startswith("jhpolicy shadow")]


def test_a_shadow_changes_nothing(opa):
    plain = run_spawn(opa.url, BODY, groups=["students"])
    shadowed = run_spawn(opa.url, BODY, groups=["students"], config=shadow_config("jhpolicy_contract/allow_as_is"))
    compared(shadowed)
    assert shadowed.status == plain.status == 200
    assert shadowed.pod == plain.pod and shadowed.changed() == plain.changed()
    assert shadowed.spawner.policy_messages == plain.spawner.policy_messages


def test_disagreement_is_logged_with_both_decision_ids_and_counted(opa, caplog):
    before = counted("clamped", "allowed", "false")
    with caplog.at_level(logging.INFO):
        r = run_spawn(opa.url, BODY, groups=["students"], config=shadow_config("jhpolicy_contract/allow_as_is"))
        comparison = compared(r)
    assert comparison.live.name == "clamped" and comparison.shadow.name == "allowed" and comparison.agree is False
    assert counted("clamped", "allowed", "false") == before + 1
    (line,) = shadow_lines(caplog)
    live_id = next(m for m in caplog.messages if m.startswith("jhpolicy decision")).split("decision_id=")[1].split()[0]
    assert line.startswith(f"jhpolicy shadow disagrees user=alice server='' decision_id={live_id} shadow_decision_id=")
    shadow_id = line.split("shadow_decision_id=")[1].split()[0]
    assert len(shadow_id) == 36 and shadow_id != live_id  # OPA's UUID for the candidate's own decision
    assert f'"decision_id":"{shadow_id}"' in opa.log_text()
    assert '"cpu_limit": 2.0' in line.split(" live=")[1].split(" shadow=")[0]
    assert '"cpu_limit": 8.0' in line.split(" shadow=")[1]


def test_the_same_policy_in_the_shadow_agrees_quietly(opa, caplog):
    before = counted("clamped", "clamped", "true")
    with caplog.at_level(logging.INFO):
        r = run_spawn(opa.url, BODY, groups=["students"], config=shadow_config("jupyterhub/spawn/decision"))
        assert compared(r).agree is True
    assert counted("clamped", "clamped", "true") == before + 1
    assert shadow_lines(caplog) == []


def test_a_refusal_the_candidate_would_allow(opa, caplog):
    with caplog.at_level(logging.INFO):
        r = run_spawn(opa.url, {"image": "evil/miner:1"}, groups=["students"], config=shadow_config("jhpolicy_contract/allow_as_is"))
        comparison = compared(r)
    assert r.status == 403
    assert comparison.live.name == "denied" and comparison.shadow.name == "allowed"
    (line,) = shadow_lines(caplog)
    assert "live=denied [" in line and "evil/miner:1" in line


@pytest.mark.parametrize(
    "path",
    ["jhpolicy_contract/no_such_rule", "jhpolicy_contract/wrong_shape", "jhpolicy_contract/grants_privileged",
     "jhpolicy_contract/guarantees_above_limits"],
)
def test_a_broken_candidate_is_an_error_outcome_only(opa, path):
    before = counted("clamped", "error", "false")
    r = run_spawn(opa.url, BODY, groups=["students"], config=shadow_config(path))
    assert r.status == 200 and r.pod["limits"]["cpu"] == 2.0
    assert compared(r).shadow.name == "error"
    assert counted("clamped", "error", "false") == before + 1


def test_a_hanging_candidate_does_not_hold_the_spawn(opa):
    faults = FaultServer(opa.url).start()
    try:
        faults.set("hang")
        r = run_spawn(opa.url, BODY, groups=["students"], config=shadow_config("jupyterhub/spawn/decision", faults.url, HUNG))
        # The spawn is done while the candidate has not answered.
        assert r.status == 200 and r.pod["limits"]["cpu"] == 2.0
        pending = r.spawner.policy_shadow
        assert not pending.done.is_set() and pending.shadow is None and pending.agree is None
        assert compared(r).shadow.name == "error"  # opa_timeout ended it
        assert "did not answer" in compared(r).shadow.messages[0]
    finally:
        faults.set(None)
        faults.stop()


def test_no_shadow_by_default(opa):
    r = run_spawn(opa.url, BODY, groups=["students"])
    assert r.status == 200 and r.spawner.policy_shadow is None


def test_refusals_worded_differently_agree(opa):
    r = run_spawn(opa.url, {"image": "evil/miner:1"}, groups=["students"], config=shadow_config("jupyterhub/spawn_candidate/decision"))
    comparison = compared(r)
    assert comparison.live.name == comparison.shadow.name == "denied"
    assert comparison.live.messages != comparison.shadow.messages and comparison.agree is True


def test_the_stricter_candidate_disagrees_where_it_is_stricter(opa, caplog):
    with caplog.at_level(logging.INFO):
        r = run_spawn(opa.url, BODY, groups=["students"], config=shadow_config("jupyterhub/spawn_candidate/decision"))
        comparison = compared(r)
    assert r.status == 200 and comparison.agree is False
    (line,) = shadow_lines(caplog)
    assert line.endswith('shadow=denied ["choosing your own image is being phased out"]')


def test_the_same_outcome_with_another_pod_disagrees(opa):
    r = run_spawn(opa.url, BODY, groups=["students"], config=shadow_config("jhpolicy_contract/clamp_cpu_to_one"))
    comparison = compared(r)
    assert comparison.live.name == comparison.shadow.name == "clamped"
    assert comparison.live.pod["cpu_limit"] == 2.0 and comparison.shadow.pod["cpu_limit"] == 1.0
    assert comparison.agree is False


def test_without_decision_logs_the_ids_are_dashes(caplog):
    from jhpolicy.tooling.local_opa import LocalOPA

    from .helpers.policies import POLICIES, TEST_POLICIES

    with LocalOPA([POLICIES, TEST_POLICIES]) as plain_opa, caplog.at_level(logging.INFO):
        r = run_spawn(plain_opa.url, BODY, groups=["students"], config=shadow_config("jhpolicy_contract/allow_as_is"))
        compared(r)
    (line,) = shadow_lines(caplog)
    assert " decision_id=- shadow_decision_id=- live=clamped " in line


def test_an_unexpected_failure_of_the_candidate_is_an_error_outcome(caplog):
    """Whatever goes wrong with the candidate, the comparison ends, counts an
    error, and raises nothing into the thread that ran the query."""
    from concurrent.futures import Future

    from jhpolicy.hub.shadow import Comparison, Outcome, admit

    assert admit()  # as the spawner does before it starts a query
    before = counted("allowed", "error", "false")
    comparison = Comparison(Outcome("allowed", pod={"cpu_limit": 1.0}), "live-id", {"cpu_limit": 1.0}, {"cpu_limit"},
                            "user=alice server=''", logging.getLogger("test"))
    future = Future()
    future.set_exception(RuntimeError("boom"))
    with caplog.at_level(logging.WARNING):
        comparison.finish(future)
    assert comparison.done.is_set() and comparison.agree is False
    assert comparison.shadow == Outcome("error", messages=("RuntimeError",))
    assert counted("allowed", "error", "false") == before + 1
    assert caplog.messages == [
        "jhpolicy shadow disagrees user=alice server='' decision_id=live-id shadow_decision_id=- "
        'live=allowed {"cpu_limit": 1.0} shadow=error ["RuntimeError"]'
    ]


def test_a_hanging_candidate_cannot_pile_up_queries(opa, monkeypatch):
    """Beyond MAX_IN_FLIGHT unanswered candidate queries, a spawn's comparison
    is skipped and counted, so a hung candidate cannot crowd the live decisions."""
    from jhpolicy.hub import shadow

    monkeypatch.setattr(shadow, "MAX_IN_FLIGHT", 1)
    faults = FaultServer(opa.url).start()
    try:
        faults.set("hang")
        config = shadow_config("jupyterhub/spawn/decision", faults.url, HUNG)
        first = run_spawn(opa.url, BODY, groups=["students"], config=config)
        skipped = counted("clamped", "skipped", "unknown")
        second = run_spawn(opa.url, BODY, groups=["students"], config=config)
        assert first.status == second.status == 200
        assert first.spawner.policy_shadow is not None and second.spawner.policy_shadow is None
        assert counted("clamped", "skipped", "unknown") == skipped + 1
        assert compared(first).shadow.name == "error"  # its timeout frees the place
        third = run_spawn(opa.url, BODY, groups=["students"], config=config)
        assert third.spawner.policy_shadow is not None
        compared(third)
    finally:
        faults.set(None)
        faults.stop()


def test_a_candidate_that_lowers_only_a_limit_is_compared_on_the_pod_it_would_give(opa):
    # The guarantee nobody set follows the candidate's lower limit (jhpolicy.core.pod.decided), as
    # live decisions do: the shadow's pod is a valid one, not an error.
    body = {"image": SAMPLE, "cpu_limit": 2, "mem_limit": "4G"}
    r = run_spawn(opa.url, body, groups=["students"], config=shadow_config("jhpolicy_contract/clamp_limits_only"))
    comparison = compared(r)
    assert comparison.shadow.name == "clamped"
    assert (comparison.shadow.pod["cpu_limit"], comparison.shadow.pod["cpu_guarantee"]) == (1.0, 1.0)
    assert comparison.agree is False
