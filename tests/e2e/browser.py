"""The spawn page in a real browser: Debian's Chromium through Playwright
(the `browser` fixture in tests/conftest.py), logged in as a hub user."""

from __future__ import annotations

import shutil
from contextlib import contextmanager

from .hub import ROOT

# Screenshots the browser tests take (kept out of git; some are copied into docs/_static).
ARTIFACTS = ROOT / "artifacts"


@contextmanager
def chromium():
    binary = shutil.which("chromium")
    assert binary, "Debian's chromium is needed for the spawn page tests: ./dev setup installs it"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        # Without the background-networking flags Chromium keeps dialling out,
        # and this machine's network refuses it.
        b = p.chromium.launch(
            executable_path=binary,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"],
        )
        try:
            yield b
        finally:
            b.close()


def log_in(browser, hub, user):
    page = browser.new_page()
    page.goto(hub.url + "/hub/login")
    page.fill("#username_input", user)
    page.fill("#password_input", "any")
    page.click("#login_submit")
    page.wait_for_url("**/hub/**")
    return page
