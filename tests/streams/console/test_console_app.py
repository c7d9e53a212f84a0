"""The console's pages and guards, in-process: login, roles, CSRF, decisions, history, signed links."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from processors.remediation.desk import Vote
from streams.console.links import LinkSigner
from tests.streams.console.conftest import LINK_KEY, Console, csrf_of
from tests.streams.console.desk_factory import make_request


def test_every_page_but_login_sends_an_anonymous_visitor_to_the_login(console: Console) -> None:
    for path in ("/", "/history", "/requests/req-prod"):
        answer = console.client.get(path, follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"] == f"/login?next={path}"


def test_a_wrong_password_does_not_log_in(console: Console) -> None:
    console.log_in("alice", "not-her-password")
    assert console.client.get("/", follow_redirects=False).status_code == 303


def test_the_login_form_needs_its_csrf_token(console: Console) -> None:
    console.client.get("/login")
    answer = console.client.post("/login", data={"username": "alice", "password": "alice-pass-1"})
    assert answer.status_code == 403


def test_pending_lists_requests_and_the_request_page_shows_what_will_change(console: Console) -> None:
    console.log_in("alice")
    pending = console.client.get("/").text
    assert "req-prod" in pending and "req-dev" in pending
    page = console.client.get("/requests/req-prod").text
    for shown in ("The bucket allows public reads", "GetBucketAcl: AllUsers READ", "Internet exposed",
                  "s3.PutPublicAccessBlock", "&#34;BlockPublicAcls&#34;: true", "block_public_acls = true",
                  console.desk.get("req-prod").plan_digest, 'id="approve"'):  # type: ignore[union-attr]
        assert shown in page, shown


def test_two_approvers_approve_a_production_request_and_the_same_one_twice_counts_once(console: Console) -> None:
    console.log_in("alice")
    digest = console.desk.get("req-prod").plan_digest  # type: ignore[union-attr]
    form = {"csrf": console.csrf(), "vote": "approve", "reason": "fine", "plan_digest": digest}
    console.client.post("/requests/req-prod/decision", data=form)
    again = console.client.post("/requests/req-prod/decision", data=form)
    assert "alice already approved" in again.text
    assert console.desk.get("req-prod").status == "pending"  # type: ignore[union-attr]
    console.log_in("bob")
    answer = console.client.post("/requests/req-prod/decision",
                                 data={**form, "csrf": console.csrf(), "reason": "checked the bucket"})
    assert "now approved" in answer.text
    assert [(v.approver, v.channel) for v in console.desk.votes] == [("alice", "console"), ("bob", "console")]


def test_a_rejection_needs_a_reason_and_decides_at_once(console: Console) -> None:
    console.log_in("bob")
    digest = console.desk.get("req-dev").plan_digest  # type: ignore[union-attr]
    empty = console.client.post("/requests/req-dev/decision",
                                data={"csrf": console.csrf(), "vote": "reject", "reason": " ", "plan_digest": digest})
    assert "A reason is required" in empty.text and not console.desk.votes
    console.client.post("/requests/req-dev/decision", data={"csrf": console.csrf(), "vote": "reject",
                                                             "reason": "breaks the batch job", "plan_digest": digest})
    assert console.desk.get("req-dev").status == "rejected"  # type: ignore[union-attr]
    assert console.desk.votes[0].vote is Vote.REJECT and console.desk.votes[0].reason == "breaks the batch job"


def test_a_vote_on_a_plan_that_changed_since_the_page_was_shown_is_refused(console: Console) -> None:
    console.log_in("alice")
    answer = console.client.post("/requests/req-dev/decision", data={
        "csrf": console.csrf(), "vote": "approve", "reason": "ok", "plan_digest": "0" * 64})
    assert "digest differs" in answer.text and not console.desk.votes


def test_a_viewer_sees_no_decision_form_and_a_forged_post_is_refused(console: Console) -> None:
    console.log_in("vera")
    page = console.client.get("/requests/req-prod").text
    assert 'id="approve"' not in page and 'id="decision"' not in page
    digest = console.desk.get("req-prod").plan_digest  # type: ignore[union-attr]
    forged = console.client.post("/requests/req-prod/decision", data={
        "csrf": csrf_of(page), "vote": "approve", "reason": "x", "plan_digest": digest})
    assert forged.status_code == 403 and not console.desk.votes


def test_an_admin_may_decide(console: Console) -> None:
    console.log_in("ada")
    assert 'id="approve"' in console.client.get("/requests/req-dev").text


def test_a_decision_without_the_csrf_token_or_with_another_is_refused(console: Console) -> None:
    console.log_in("alice")
    digest = console.desk.get("req-dev").plan_digest  # type: ignore[union-attr]
    base = {"vote": "approve", "reason": "ok", "plan_digest": digest}
    assert console.client.post("/requests/req-dev/decision", data=base).status_code == 403
    assert console.client.post("/requests/req-dev/decision", data={**base, "csrf": "guess"}).status_code == 403
    assert not console.desk.votes


def test_logging_in_again_starts_a_new_session_with_a_new_csrf_token(console: Console) -> None:
    console.client.get("/login")
    before = console.csrf("/login")
    console.log_in("alice")
    assert console.csrf() != before


def test_alert_text_is_escaped_never_markup(console: Console) -> None:
    console.desk.add(make_request("req-xss", required=1, plan_id="plan-x", summary="<script>alert(1)</script>"))
    console.log_in("alice")
    for path in ("/", "/requests/req-xss"):
        html = console.client.get(path).text
        assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_every_answer_carries_the_security_headers_and_the_cookie_is_strict(console: Console) -> None:
    answer = console.client.get("/login")
    assert answer.headers["x-frame-options"] == "DENY"
    assert "script-src" not in answer.headers["content-security-policy"]
    assert "default-src 'none'" in answer.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    cookie = answer.headers["set-cookie"].lower()
    assert "samesite=strict" in cookie and "httponly" in cookie


def test_history_filters_by_status_alert_and_date(console: Console) -> None:
    console.desk.add(make_request("req-old", required=1, plan_id="plan-o", alert_id="P-3003",
                                  expires_in=timedelta(minutes=1)))
    console.log_in("alice")
    digest = console.desk.get("req-dev").plan_digest  # type: ignore[union-attr]
    console.client.post("/requests/req-dev/decision", data={"csrf": console.csrf(), "vote": "approve",
                                                             "reason": "ok", "plan_digest": digest})
    every = console.client.get("/history").text
    assert "req-dev" in every and "req-old" in every and "req-prod" not in every
    assert "req-old" not in console.client.get("/history?status=approved").text
    only = console.client.get("/history?alert_id=P-3003").text
    assert "req-old" in only and "req-dev" not in only
    assert 'id="none"' in console.client.get("/history?since=2026-12-08").text
    assert "req-dev" in console.client.get("/history?since=2026-12-07&until=2026-12-07").text


def test_a_signed_link_opens_the_request_after_login_and_a_bad_or_old_one_is_refused(console: Console) -> None:
    path = console.links.path("req-prod")
    first = console.client.get(path, follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/login?next=/requests/req-prod"
    console.log_in("alice")
    assert console.client.get(path, follow_redirects=False).headers["location"] == "/requests/req-prod"
    other = LinkSigner(b"some-other-key-0123456789", 3600).path("req-prod")
    assert console.client.get(other).status_code == 403
    assert console.client.get(path.replace("req-prod", "req-dev", 1)).status_code == 403
    console.clock.advance(hours=2)
    assert console.client.get(path).status_code == 403


def test_the_console_is_ready_only_while_its_approval_desk_answers(console: Console,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    assert console.client.get("/readyz").status_code == 200  # no login: the kubelet probes it

    def unreachable() -> list[object]:
        raise httpx.ConnectError("approval service down")

    monkeypatch.setattr(console.desk, "pending", unreachable)
    answer = console.client.get("/readyz")
    assert answer.status_code == 503 and "approval service unreachable" in answer.text
    assert console.client.get("/healthz").status_code == 200  # alive all the same: no restart for a peer's outage
