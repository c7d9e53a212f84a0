"""The console in a real headless Chromium (Debian's ``chromium`` and ``chromium-driver``, driven by
Selenium): two approvers approve a production request in turn, a rejection with its reason, a viewer
without buttons whose forged POST is refused, and a POST without the CSRF token refused.

The console is served by uvicorn on a free port (:class:`streams.embedded.ServedApp`). Each step's
screenshot is kept under ``.prismaflow/test-artifacts/console-browser/<test>/`` (git-ignored).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.wait import WebDriverWait

from processors.remediation.memory_desk import InMemoryDesk
from streams.console.app import build_console_app
from streams.console.links import LinkSigner
from streams.embedded import ServedApp
from tests.streams.console.desk_factory import PASSWORDS, Clock, desk_with, make_request, user_store

pytestmark = pytest.mark.slow

ARTIFACTS = Path(__file__).resolve().parents[3] / ".prismaflow" / "test-artifacts" / "console-browser"


class Browser:
    """One Chromium session against the console, saving a numbered screenshot per step."""

    def __init__(self, driver: WebDriver, base_url: str, shots: Path) -> None:
        self.driver = driver
        self.base_url = base_url
        self.shots = shots
        self._step = 0

    def shot(self, name: str) -> None:
        self._step += 1
        self.driver.save_screenshot(str(self.shots / f"{self._step:02d}-{name}.png"))

    def open(self, path: str) -> None:
        self.driver.get(self.base_url + path)

    def log_in(self, name: str) -> None:
        self.open("/login")
        self.driver.delete_all_cookies()  # on the console's own page: cookies are deleted per site
        self.open("/login")
        self.driver.find_element(By.ID, "username").send_keys(name)
        self.driver.find_element(By.ID, "password").send_keys(PASSWORDS[name])
        self.shot(f"login-{name}")
        self.driver.find_element(By.ID, "login").click()
        assert f"{name} (" in self.after_click("who").text

    def decide(self, request_id: str, vote: str, reason: str) -> str:
        self.open(f"/requests/{request_id}")
        self.driver.find_element(By.ID, "reason").send_keys(reason)
        self.shot(f"{vote}-{request_id}")
        self.driver.find_element(By.ID, vote).click()
        message = self.after_click("message").text
        self.shot(f"after-{vote}-{request_id}")
        return message

    def after_click(self, element_id: str) -> WebElement:
        """The element of the page a click leads to, once that page has loaded (a loaded machine may
        take a while to answer the form's POST)."""
        return WebDriverWait(self.driver, 30).until(
            expected_conditions.presence_of_element_located((By.ID, element_id)))

    def text(self, element_id: str) -> str:
        return self.driver.find_element(By.ID, element_id).text

    def post_from_page(self, path: str, fields: dict[str, str]) -> None:
        """Send a POST the way a forged page would: no script (the CSP forbids it), so a form
        built through the DevTools protocol's DOM and submitted, carrying the session cookie."""
        self.driver.execute_cdp_cmd("Runtime.evaluate", {"expression": (
            "(() => { const f = document.createElement('form'); f.method = 'post'; f.action = " + repr(path) + ";"
            + "".join(f"const i{n} = document.createElement('input'); i{n}.name = {key!r}; i{n}.value = {value!r};"
                      f" f.appendChild(i{n});" for n, (key, value) in enumerate(fields.items()))
            + "document.body.appendChild(f); f.submit(); })()")})


@pytest.fixture(scope="module")
def chromium() -> Iterator[WebDriver]:
    binary, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    assert binary and driver_path, "install chromium and chromium-driver (scripts/system-deps.sh test)"
    options = Options()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1280,1400"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def served(request: pytest.FixtureRequest, chromium: WebDriver) -> Iterator[tuple[Browser, InMemoryDesk]]:
    clock = Clock()
    desk = desk_with(make_request("req-prod", required=2),
                     make_request("req-dev", required=1, plan_id="plan-2", alert_id="P-2002",
                                  summary="Remove 0.0.0.0/0 from sg-dev"), clock=clock)
    app = build_console_app(desk, user_store(), session_secret="browser-session-key-0123456789",
                            links=LinkSigner(b"browser-link-key-0123456789", 3600, clock.seconds),
                            secure_cookies=False)
    server = ServedApp(app)
    shots = ARTIFACTS / re.sub(r"[^A-Za-z0-9_-]", "_", request.node.name)
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)
    try:
        yield Browser(chromium, server.url, shots), desk
    finally:
        server.stop()


def test_two_approvers_in_turn_approve_a_production_request(served: tuple[Browser, InMemoryDesk]) -> None:
    browser, desk = served
    browser.log_in("alice")
    browser.open("/")
    browser.shot("pending")
    assert "req-prod" in browser.text("pending")
    assert "needs more approvals" in browser.decide("req-prod", "approve", "bucket must not be public")
    assert browser.text("status") == "pending" and browser.text("approvals") == "1"
    browser.log_in("bob")
    assert "now approved" in browser.decide("req-prod", "approve", "checked with the data owner")
    assert browser.text("status") == "approved"
    assert desk.get("req-prod").status == "approved"  # type: ignore[union-attr]
    assert [(v.approver, v.vote.value) for v in desk.votes] == [("alice", "approve"), ("bob", "approve")]
    browser.open("/history?status=approved")
    browser.shot("history-approved")
    assert "req-prod" in browser.text("history")


def test_an_approver_rejects_with_a_reason(served: tuple[Browser, InMemoryDesk]) -> None:
    browser, desk = served
    browser.log_in("bob")
    assert "now rejected" in browser.decide("req-dev", "reject", "the batch job needs port 22 this week")
    assert browser.text("status") == "rejected"
    assert desk.votes[0].reason == "the batch job needs port 22 this week" and desk.votes[0].channel == "console"


def test_a_viewer_has_no_buttons_and_a_forged_post_is_refused(served: tuple[Browser, InMemoryDesk]) -> None:
    browser, desk = served
    browser.log_in("vera")
    browser.open("/requests/req-prod")
    browser.shot("viewer-request")
    assert not browser.driver.find_elements(By.ID, "approve")
    csrf = browser.driver.find_element(By.NAME, "csrf").get_attribute("value")  # the logout form's token
    digest = desk.get("req-prod").plan_digest  # type: ignore[union-attr]
    browser.post_from_page("/requests/req-prod/decision", {"csrf": csrf or "", "vote": "approve", "reason": "x",
                                                           "plan_digest": digest})
    browser.shot("viewer-forged-post")
    assert "only approvers decide" in browser.driver.page_source
    assert not desk.votes


def test_a_post_without_the_csrf_token_is_refused(served: tuple[Browser, InMemoryDesk]) -> None:
    browser, desk = served
    browser.log_in("alice")
    browser.open("/requests/req-dev")
    digest = desk.get("req-dev").plan_digest  # type: ignore[union-attr]
    browser.post_from_page("/requests/req-dev/decision", {"vote": "approve", "reason": "x", "plan_digest": digest})
    browser.shot("post-without-csrf")
    assert "CSRF token missing or wrong" in browser.driver.page_source
    assert not desk.votes
