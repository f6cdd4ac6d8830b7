"""What the spawn page offers: profiles and choices judged by the policy
before the user picks (jhpolicy.core.offers, _candidate_judgements in
policies/allowance_view.rego).

The rules on their own, then real PolicyKubeSpawner objects asking the real
OPA (tests' data) for their page and their allowance view. Offline, so
quotas are off here; a full quota on the page, in a browser against a real
hub and the local API server, is in tests/test_allowance.py.
"""

from __future__ import annotations

import copy

import pytest
from traitlets.config import Config

from jhpolicy.core import allowance, offers
from jhpolicy.core.offers import Candidate, Unavailable
from jhpolicy.tooling.offline import OfflineUser, make_spawner

from .e2e.profiles import MATLAB, PROFILE_LIST, PYTORCH
from .helpers.spawns import LOOP, page

# The end-to-end hub's profiles, PyTorch the GPU image's default choice.
PROFILES = copy.deepcopy(PROFILE_LIST)
PROFILES[2]["profile_options"]["image"]["choices"]["pytorch"]["default"] = True


# --- the rules, on their own ---


def initialised(profiles):
    profiles = copy.deepcopy(profiles)
    for p in profiles:
        for option in p.get("profile_options", {}).values():
            if not any(c.get("default") for c in option["choices"].values()):
                next(iter(option["choices"].values()))["default"] = True
    return profiles


def test_each_profile_and_each_other_choice_is_a_candidate():
    assert offers.candidates(initialised(PROFILES)) == [
        Candidate("small"), Candidate("medium"), Candidate("gpu"), Candidate("gpu", "image", "matlab"),
    ]


def test_candidates_are_bounded():
    many = [{"slug": f"p{i}", "display_name": f"P{i}"} for i in range(offers.MAX_CANDIDATES + 5)]
    assert len(offers.candidates(many)) == offers.MAX_CANDIDATES


ALLOW, REFUSE = {"allow": True, "message": ""}, {"allow": False, "message": "no room"}


def test_a_profile_the_user_may_not_select_is_not_available():
    shown, out = offers.sort_out(initialised(PROFILES), {"small", "medium"}, "group students", {})
    assert [p["slug"] for p in shown] == ["small", "medium"]
    assert out == [Unavailable("gpu", None, None, "GPU", "not allowed for group students")]


def test_a_profile_whose_every_spawn_is_refused_is_not_available():
    judged = {Candidate("gpu"): REFUSE, Candidate("gpu", "image", "matlab"): REFUSE}
    shown, out = offers.sort_out(initialised(PROFILES), {"small", "medium", "gpu"}, "x", judged)
    assert [p["slug"] for p in shown] == ["small", "medium"]
    assert out == [Unavailable("gpu", None, None, "GPU", "no room")]


def test_a_refused_choice_is_taken_out_and_said_why():
    profiles = initialised(PROFILES)
    judged = {Candidate("gpu"): ALLOW, Candidate("gpu", "image", "matlab"): REFUSE}
    shown, out = offers.sort_out(profiles, {"small", "medium", "gpu"}, "x", judged)
    assert list(shown[2]["profile_options"]["image"]["choices"]) == ["pytorch"]
    assert out == [Unavailable("gpu", "image", "matlab", "GPU, Image: MATLAB", "no room")]
    assert "matlab" in profiles[2]["profile_options"]["image"]["choices"]  # the hub's own list is untouched


def test_a_refused_default_gives_way_to_the_first_allowed_choice():
    judged = {Candidate("gpu"): REFUSE, Candidate("gpu", "image", "matlab"): ALLOW}
    shown, out = offers.sort_out(initialised(PROFILES), {"gpu"}, "x", judged)
    assert shown[0]["profile_options"]["image"]["choices"] == {
        "matlab": {"display_name": "MATLAB", "default": True, "kubespawner_override": {"image": MATLAB}},
    }
    assert out[-1] == Unavailable("gpu", "image", "pytorch", "GPU, Image: PyTorch", "no room")


def test_a_refusal_without_words_still_says_something():
    shown, out = offers.sort_out(initialised(PROFILES[:1]), {"small"}, "x", {Candidate("small"): {"allow": False, "message": ""}})
    assert shown == [] and out[0].reason == offers.NOT_OFFERED


# --- real spawners asking the real OPA ---


def spawner_for(opa_url, groups, **config):
    """A spawner made on the tests' event loop (KubeSpawner's client needs one)."""
    return LOOP.run_until_complete(_made(opa_url, groups, config))


async def _made(opa_url, groups, config):
    c = Config()
    c.PolicyKubeSpawner.opa_url = opa_url
    c.PolicyKubeSpawner.policy_quotas = False  # no cluster offline: no pods to count
    c.PolicyKubeSpawner.profile_list = PROFILES
    c.PolicyKubeSpawner.image = "quay.io/jupyterhub/k8s-singleuser-sample:4.0.0"
    for key, value in config.items():
        setattr(c.PolicyKubeSpawner, key, value)
    return make_spawner(c, OfflineUser(name="alice", groups=list(groups)), {})


def test_a_gpu_user_is_offered_the_gpu_profile_without_the_image_they_may_not_run(opa):
    spawner = spawner_for(opa.url, ["gpu-users"])
    before = {k: copy.deepcopy(getattr(spawner, k)) for k in ("image", "cpu_limit", "mem_limit", "extra_resource_limits")}
    html = page(spawner)
    form = html[html.index("kubespawner-profiles-list"):]
    assert 'value="gpu"' in form and 'value="pytorch"' in form
    assert MATLAB not in form and 'value="matlab"' not in form
    panel = html[: html.index("kubespawner-profiles-list")]
    assert "GPU, Image: MATLAB</label>" in panel
    assert f"(image {MATLAB} (the profile option) is not allowed for group gpu-users;" in panel
    # Judging each candidate put KubeSpawner's profile on this spawner and took it off again.
    assert {k: getattr(spawner, k) for k in before} == before


def test_the_same_is_in_the_allowance_view(opa):
    view = LOOP.run_until_complete(spawner_for(opa.url, ["gpu-users"]).allowance_view())
    assert view["available"] is True and "candidates" not in view
    assert view["unavailable"] == [{
        "profile": "gpu", "option": "image", "choice": "matlab", "name": "GPU, Image: MATLAB",
        "reason": f"image {MATLAB} (the profile option) is not allowed for group gpu-users; allowed images: "
                  "nvcr.io/nvidia/pytorch:*, quay.io/jupyter/pytorch-notebook:cuda*, "
                  "quay.io/jupyterhub/k8s-singleuser-sample:*, quay.io/jupyterhub/singleuser:*",
        "help": {"text": "Ask for more GPU time", "url": "https://help.example.edu/gpu"},  # gpu-users' in the tests' data
    }]


def test_a_student_sees_the_gpu_profile_disabled_with_why(opa):
    html = page(spawner_for(opa.url, ["students"]))
    form = html[html.index("kubespawner-profiles-list"):]
    assert 'value="gpu"' not in form and 'value="medium"' in form
    assert '<label for="jhpolicy-unavailable-0">GPU</label> <span id="jhpolicy-unavailable-0-why">(profile gpu is not allowed for group students)</span>' in html


def test_a_profile_kubernetes_would_refuse_is_not_offered_and_says_why(opa):
    broken = copy.deepcopy(PROFILES)
    broken[1]["kubespawner_override"]["extra_resource_guarantees"] = {"example.com/fpga": 1}  # and no limit
    view = LOOP.run_until_complete(spawner_for(opa.url, ["students"], profile_list=broken).allowance_view())
    assert view["unavailable"][0]["profile"] == "medium"
    assert view["unavailable"][0]["reason"] == (
        "the pod would be refused by Kubernetes: "
        "extra_resource_guarantees[example.com/fpga] has no limit; Kubernetes needs one equal to it"
    )


def test_judgements_that_do_not_match_the_candidates_give_no_view(opa, caplog):
    spawner = spawner_for(opa.url, ["gpu-users"], opa_allowance_path="jhpolicy_contract/view_one_judgement_short")
    html = page(spawner)
    assert allowance.NOT_AVAILABLE["message"] in html
    # Nothing is judged then: every profile the user may select is offered,
    # and each spawn is still decided on its own.
    assert 'value="matlab"' in html
    assert "candidates: 3 judgements for 4 candidates" in caplog.text


@pytest.mark.parametrize("choice, status", [("pytorch", 200), ("matlab", 403)])
def test_submitting_a_choice_the_page_took_out_is_still_decided(opa, choice, status):
    from .helpers.spawns import run_spawn

    c = Config()
    c.PolicyKubeSpawner.profile_list = PROFILES
    r = run_spawn(opa.url, {"profile": "gpu", "image": choice}, groups=["gpu-users"], config=c)
    assert r.status == status
    assert r.spawner.image == (PYTORCH if status == 200 else r.before["image"])


def test_a_profile_with_only_a_free_text_option_is_offered_unjudged(opa):
    # KubeSpawner has no default spawn for it (the user must type a value),
    # so there is nothing to judge beforehand: offered, decided on submit.
    free = [{"display_name": "Own image", "slug": "small", "profile_options": {"image": {
        "display_name": "Image", "unlisted_choice": {"enabled": True, "display_name": "Image", "kubespawner_override": {"image": "{value}"}},
    }}}]
    view = LOOP.run_until_complete(spawner_for(opa.url, ["students"], profile_list=free).allowance_view())
    assert view["available"] is True and view["unavailable"] == []


def test_a_view_that_judged_every_profile_is_the_only_query(opa):
    # The profile list's rule would offer nothing: it is not asked.
    html = page(spawner_for(opa.url, ["gpu-users"], opa_profiles_path="jhpolicy_contract/profiles_none"))
    assert 'value="gpu"' in html and 'value="small"' in html


def test_a_view_without_judgements_falls_back_to_the_profile_list(opa):
    # A policy of one's own whose view judges nothing: the profile list decides what is offered.
    spawner = spawner_for(opa.url, ["gpu-users"], opa_allowance_path="jhpolicy_contract/view_base",
                          opa_profiles_path="jhpolicy_contract/profiles_none")
    error = page(spawner)
    # Each profile's reason is told (issue #28 item 6).
    assert error.jupyterhub_message == (
        "Spawn refused by policy: none of this hub's profiles is available to you "
        "(Small: not allowed for you; Medium: not allowed for you; GPU: not allowed for you)"
    )
    all_offered = page(spawner_for(opa.url, ["gpu-users"], opa_allowance_path="jhpolicy_contract/view_base",
                                   opa_profiles_path="jhpolicy_contract/profiles_all"))
    assert 'value="matlab"' in all_offered  # nothing judged: offered, decided on submit


def test_an_unreachable_opa_gives_no_view_and_no_page():
    from jhpolicy.tooling.local_opa import free_port

    down = f"http://127.0.0.1:{free_port()}"
    view = LOOP.run_until_complete(spawner_for(down, ["gpu-users"], opa_timeout=1.0).allowance_view())
    assert view == allowance.NOT_AVAILABLE
    error = page(spawner_for(down, ["gpu-users"], opa_timeout=1.0))
    assert error.status_code == 503
