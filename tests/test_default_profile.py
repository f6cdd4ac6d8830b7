"""A default profile some users may not select, through a real hub
(issue #28 item 1): the REST API with no body, the spawn page in Chromium,
and the form submitted as rendered. Before, a request naming no profile got
the default profile unchecked (its node selector, its GPU), while naming it
was refused.

The e2e hub's profiles with GPU as the default (E2E_DEFAULT_PROFILE), the
real API server with kwok nodes; on both JupyterHub versions.
"""

from __future__ import annotations

import pytest

from .e2e.browser import ARTIFACTS, log_in
from .e2e.hub import Hub

DEFAULT_REFUSAL = (
    "profile gpu (the hub's default, used when a request names none) is not allowed for group students; "
    "name a profile you may select"
)


@pytest.fixture(scope="module")
def hub(opa, cluster, pod_ips, tmp_path_factory):
    hub = Hub(tmp_path_factory.mktemp("hub"), opa.url, cluster=cluster, namespace="jhub-default-profile",
              singleuser_port=pod_ips.port, env={"E2E_DEFAULT_PROFILE": "gpu"}).start()
    yield hub
    hub.stop()


def gpus_of(hub, user, server=""):
    pods = [p["pod"] for p in hub.pods() if (p["user"], p["server"]) == (user, server)]
    assert len(pods) == 1, pods
    return pods[0]["spec"]["containers"][0]["resources"].get("limits", {}).get("nvidia.com/gpu")


@pytest.mark.parametrize("body", [None, {}, {"cpu_limit": 1}, {"profile": None}])
def test_no_profile_named_is_the_default_judged(hub, body):
    r = hub.start_server("sam", "", body)
    assert r.status_code == 403, r.text
    assert r.json()["message"].startswith("Spawn refused by policy: ") and DEFAULT_REFUSAL in r.json()["message"], r.text
    assert hub.server_state("sam", "") is None
    assert [p for p in hub.pods() if p["user"] == "sam"] == []


def test_who_may_select_it_gets_it_and_others_name_theirs(hub):
    try:
        r = hub.start_server("gina", "", {})
        assert r.status_code in (201, 202), r.text
        assert hub.progress_events("gina")[-1].get("ready")
        assert gpus_of(hub, "gina") == "1"
        r = hub.start_server("sam", "", {"profile": "small"})
        assert r.status_code in (201, 202), r.text
        assert hub.progress_events("sam")[-1].get("ready")
        assert gpus_of(hub, "sam") is None
    finally:
        for user in ("gina", "sam"):
            if hub.server_state(user, "") is not None:
                hub.stop_server(user, "")


def test_the_spawn_page_checks_what_the_user_may_select_and_starts_it_as_rendered(hub, browser):
    page = log_in(browser, hub, "sam")
    try:
        page.goto(f"{hub.url}/hub/spawn/sam")
        offered = page.eval_on_selector_all("input[name=profile]", "inputs => inputs.map(i => [i.value, i.checked])")
        assert offered == [["small", True], ["medium", False]]
        disabled = page.eval_on_selector_all("fieldset.jhpolicy-unavailable label", "labels => labels.map(l => l.innerText)")
        assert disabled == ["GPU"]
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=ARTIFACTS / "default-profile-restricted.png", full_page=True)
        page.click("form button[type=submit]")  # as rendered: nothing changed
        hub.wait_for(lambda: hub.server_state("sam", "") is not None, "sam's server to be spawned")
        assert hub.progress_events("sam")[-1].get("ready")
        assert gpus_of(hub, "sam") is None
    finally:
        page.close()
        if hub.server_state("sam", "") is not None:
            hub.stop_server("sam", "")
