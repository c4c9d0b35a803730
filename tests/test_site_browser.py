"""The site in a real browser on a phone-sized screen: `signpost serve` in a subprocess, driven by
Debian's chromium through Playwright. Proves the keyboard path, the no-JavaScript forms, and that no
request ever leaves 127.0.0.1."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from directory.build import build
from tests.conftest import REPO, chromium_path

pytestmark = pytest.mark.browser

FIXTURE_DATA = Path(__file__).parent / "fixtures" / "site_data"
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    shutil.copytree(FIXTURE_DATA, root / "data")
    db_path = root / "signpost.db"
    build(root / "data", db_path)
    (root / "data" / "organizations" / "quiet-withdrawn.yaml").unlink()
    build(root / "data", db_path)  # now withdrawn, as in test_site.py
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "directory", "serve", "--db", str(db_path), "--port", str(port)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(base + "/robots.txt", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stdout.read().decode() if process.poll() is not None else ""
                pytest.fail(f"signpost serve did not start: {output}")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()


@pytest.fixture(scope="module")
def browser():
    executable = chromium_path()
    if executable is None:
        pytest.skip("chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 390, "height": 844}, java_script_enabled=False,
                                  device_scale_factor=1)
    page = context.new_page()
    page.requests = []  # every URL the page asked for, to prove nothing left 127.0.0.1
    page.on("request", lambda request: page.requests.append(request.url))
    yield page
    context.close()


def hosts(urls: list[str]) -> set[str]:
    return {urlsplit(url).hostname for url in urls if not url.startswith(("data:", "about:"))}


def test_phone_visitor_searches_filters_and_opens_an_organization(page, server):
    page.goto(server + "/")

    # The keyboard path: the first Tab lands on the skip link, which leads to the search box.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Skip to main content"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "q"

    # Search with the labelled box; the form works without JavaScript.
    search = page.get_by_label("Search by name, need or topic")
    search.fill("helpline")
    search.press("Enter")
    page.wait_for_url("**/?q=helpline*")
    assert page.locator("article.card").count() == 6

    # Pick a country, then a region inside it, then a focus: each is a plain GET.
    page.get_by_label("Where do you need help?").select_option("CA")
    page.get_by_role("button", name="Show organizations").click()
    page.wait_for_url("**country=CA*")
    page.get_by_label("Region (optional)").select_option("CA-ON")
    page.locator("details.focus-filter summary").click()
    page.get_by_label("Hereditary risk").check()
    page.get_by_role("button", name="Show organizations").click()
    page.wait_for_url("**region=CA-ON*")
    cards = page.locator("article.card")
    assert cards.count() == 1
    assert cards.first.locator("h3").inner_text() == "Willow Breast & Hereditary Cancer Support"

    # Nothing overflows the phone's width.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(server + "/?q=breast")
    page.screenshot(path=str(ARTIFACTS / "site-search.png"), full_page=False)
    page.screenshot(path=str(ARTIFACTS / "site-search-full.png"), full_page=True)

    # Open an organization from its card.
    page.goto(server + "/?country=CA&region=CA-ON&tag=hereditary-risk")
    page.locator("article.card h3 a").first.click()
    page.wait_for_url("**/org/willow-hereditary-support")
    assert page.locator("h1").inner_text() == "Willow Breast & Hereditary Cancer Support"
    assert "Formerly Willow Breast Cancer Support Canada" in page.locator("main").inner_text()
    page.screenshot(path=str(ARTIFACTS / "site-org.png"), full_page=True)

    assert hosts(page.requests) == {"127.0.0.1"}, page.requests


def test_focus_is_visible_and_escaped_names_stay_text(page, server):
    page.goto(server + "/org/script-and-co")
    assert page.locator("h1").inner_text() == "<script>alert(1)</script> & Co"
    page.keyboard.press("Tab")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
    assert hosts(page.requests) == {"127.0.0.1"}, page.requests


AXE_PAGES = ["/", "/?q=helpline", "/?country=CA&region=CA-ON", "/?tag=helpline&country=GB",
             "/org/breast-cancer-now", "/org/breast-cancer-care", "/org/no-such-organization"]


def test_pages_have_no_accessibility_violations(browser, server):
    """axe-core (bundled by axe-playwright-python, no download) checks each visitor page against
    WCAG 2.1 A/AA rules in the real browser, at phone width."""
    from axe_playwright_python.sync_playwright import Axe

    context = browser.new_context(viewport={"width": 390, "height": 844})  # axe itself needs JavaScript
    page = context.new_page()
    found = {}
    try:
        for path in AXE_PAGES:
            page.goto(server + path)
            results = Axe().run(page, options={"runOnly": {"type": "tag",
                                                           "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})
            violations = results.response["violations"]
            if violations:
                found[path] = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in violations]
    finally:
        context.close()
    assert found == {}
