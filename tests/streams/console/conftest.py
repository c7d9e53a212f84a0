"""A console over an in-memory desk, served in-process, with a helper that logs people in."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from starlette.testclient import TestClient

from processors.remediation.memory_desk import InMemoryDesk
from streams.console.app import build_console_app
from streams.console.links import LinkSigner
from tests.streams.console.desk_factory import PASSWORDS, Clock, desk_with, make_request, user_store

LINK_KEY = b"link-key-for-tests-0123456789"


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "page has no CSRF field"
    return match.group(1)


@dataclass
class Console:
    desk: InMemoryDesk
    clock: Clock
    links: LinkSigner
    client: TestClient

    def log_in(self, name: str, password: str | None = None) -> None:
        page = self.client.get("/login")
        answer = self.client.post("/login", data={"csrf": csrf_of(page.text), "username": name,
                                                  "password": PASSWORDS[name] if password is None else password,
                                                  "next": "/"}, follow_redirects=False)
        assert answer.status_code in (303, 401)

    def csrf(self, path: str = "/") -> str:
        return csrf_of(self.client.get(path).text)


@pytest.fixture
def console() -> Iterator[Console]:
    clock = Clock()
    desk = desk_with(make_request("req-prod", required=2),
                     make_request("req-dev", required=1, plan_id="plan-2", alert_id="P-2002",
                                  summary="Remove 0.0.0.0/0 from sg-dev"), clock=clock)
    links = LinkSigner(LINK_KEY, ttl_s=3600, clock=clock.seconds)
    app = build_console_app(desk, user_store(), session_secret="session-key-for-tests-0123456789", links=links,
                            secure_cookies=False)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield Console(desk, clock, links, client)
