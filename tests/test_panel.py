"""The spawn page's allowance panel in words (jhpolicy/core/panel.py)."""

from __future__ import annotations

import html as html_module
import re

from jhpolicy.core import panel

GIB = 2**30

GPU_VIEW = {
    "available": True, "version": 1, "sources": ["group gpu-users"],
    "images": ["nvcr.io/nvidia/pytorch:*", "quay.io/jupyterhub/k8s-singleuser-sample:*"], "images_total": 25,
    "repositories": [], "repositories_total": 3,
    "max": {"cpu_limit": 8, "cpu_guarantee": 4, "mem_limit": 32 * GIB, "mem_guarantee": 0.5 * GIB},
    "extra_resources": {"nvidia.com/gpu": 1, "example.com/fpga": 2}, "profiles": ["*"],
    "quotas": [
        {"scope": "user", "group": "", "resource": "servers", "quota": 2, "in_use": 1, "left": 1},
        {"scope": "member", "group": "gpu-users", "resource": "cpu_limit", "quota": 8, "in_use": 2.5, "left": 5.5},
        {"scope": "group", "group": "gpu-users", "resource": "nvidia.com/gpu", "quota": 4, "in_use": 4, "left": 0},
        {"scope": "hub", "group": "", "resource": "mem_limit", "quota": 64 * GIB, "in_use": 1.5 * GIB, "left": 62.5 * GIB},
    ],
}


def words(html: str) -> list[str]:
    """The panel's list items and paragraphs as text."""
    return [html_module.unescape(re.sub(r"<[^>]+>", "", item)) for item in re.findall(r"<(?:li|p)[^>]*>(.*?)</(?:li|p)>", html)]


def test_a_gpu_users_panel_in_words():
    assert words(panel.render(GPU_VIEW)) == [
        "Up to 8 CPUs and 32G memory per server (guaranteed: up to 4 CPUs, 512M memory)",
        "example.com/fpga: up to 2 per server",
        "GPUs: up to 1 per server",
        "Images: nvcr.io/nvidia/pytorch:*, quay.io/jupyterhub/k8s-singleuser-sample:* and 23 more; and 3 listed repositories",
        "You hold 1 of your 2 servers (1 left)",
        "You hold 2.5 of the 8 CPUs (limits) each member of gpu-users may hold (5.5 left)",
        "GPUs: 4 of 4 in use in gpu-users: none left",
        "Memory (limits): 1.5G of 64G in use across the hub (62.5G left)",
        "From: group gpu-users.",
    ]


def test_none_left_is_said_in_words_not_only_in_colour():
    html = panel.render(GPU_VIEW)
    assert 'GPUs: 4 of 4 in use in gpu-users: <span class="jhpolicy-none-left">none left</span>' in html


def test_a_view_that_is_not_available_says_why():
    html = panel.render({"available": False, "message": "the hub's spawn policy is misconfigured, ask your hub admin: group x"})
    assert words(html) == ["the hub's spawn policy is misconfigured, ask your hub admin: group x"]
    assert '<p role="status">' in html


def test_what_the_view_says_is_escaped():
    view = {**GPU_VIEW, "images": ['<img src=x onerror="alert(1)">'], "sources": ["group <b>"], "quotas": []}
    html = panel.render(view, [("<script>alert(1)</script>", "not allowed for group <b>", {"text": "<i>ask</i>"})])
    assert "<img" not in html and "<script>" not in html and "<b>" not in html and "<i>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_an_unavailable_profile_links_to_how_to_get_more():
    html = panel.render(GPU_VIEW, [("GPU", "quota reached", {"text": "Ask for more GPU time", "url": "https://help.example.edu/gpu?a=1&b=2"})])
    assert '(quota reached)</span> <a href="https://help.example.edu/gpu?a=1&amp;b=2">Ask for more GPU time</a></div>' in html


def test_the_panel_is_labelled_for_screen_readers():
    html = panel.render(GPU_VIEW, [("Large", "not allowed for group gpu-users", None)])
    assert '<section class="jhpolicy-allowance" aria-labelledby="jhpolicy-allowance-title">' in html
    assert '<h2 id="jhpolicy-allowance-title">What you may launch</h2>' in html
    assert '<label for="jhpolicy-unavailable-0">Large</label>' in html
    assert 'aria-describedby="jhpolicy-unavailable-0-why"' in html


def test_amounts_as_people_write_them():
    assert [panel.amount("cpu_limit", n) for n in (0.5, 1, 2)] == ["0.5 CPU", "1 CPU", "2 CPUs"]
    assert [panel.amount("mem_limit", n) for n in (GIB, 1.5 * GIB, 512 * 2**20, 1000)] == [
        "1G memory", "1.5G memory", "512M memory", "1000 bytes memory"]
    # A quota of "1.3G" is 1395864371 bytes: shown as the refusal shows it
    # (policies/lib_quantities.rego, show), not as 1395864371 bytes.
    assert panel.amount("mem_limit", 1395864371) == "1.3G memory"
    assert [panel.amount("nvidia.com/gpu", n) for n in (1, 2)] == ["1 GPU", "2 GPUs"]
    assert panel.amount("servers", 1) == "1 server"
