"""The console against a remote approval service: the real ``prismaflow approvals`` on the local broker,
requests decided through its web API, and the history read back over HTTP — by
:class:`~streams.remediation.service_desk.ServiceDesk` and by the console's history page served over it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from processors.records import RolloutMode
from processors.remediation.approval import ApprovalRules, new_request
from processors.remediation.history import HistoryQuery
from streams.console.app import build_console_app
from streams.console.links import LinkSigner
from streams.remediation.service_desk import ServiceDesk
from streams.serde import AvroSerde
from streams.settings import KafkaSettings
from streams.topics import REMEDIATIONS
from tests.kafka_helpers import produce_models
from tests.streams.console.conftest import csrf_of
from tests.streams.console.desk_factory import PASSWORDS, user_store
from tests.streams.remediation.test_approval_service import TOKEN, Service, _iam_plan, running_service

pytestmark = [pytest.mark.broker, pytest.mark.slow]


@pytest.fixture
def service(kafka: KafkaSettings, catalogue: str, unique_name: Any, tmp_path: Path) -> Iterator[Service]:
    """``prismaflow approvals`` on the catalogue's topics (no chat: nothing here is escalated)."""
    with running_service(kafka, catalogue, unique_name("grp"), tmp_path) as running:
        yield running


def _decide(service: Service, request_id: str, approver: str, decision: str) -> None:
    answer = service.http.post(f"/remediations/{request_id}/decisions", headers={"Authorization": f"Bearer {TOKEN}"},
                               json={"approver": approver, "decision": decision, "reason": "reviewed"})
    assert answer.status_code == 202, answer.text


def test_decided_requests_show_in_the_remote_history_newest_first_and_on_the_console_page(
        service: Service, kafka: KafkaSettings, serde: AvroSerde, catalogue: str) -> None:
    now = datetime.now(UTC)
    rules = ApprovalRules()
    rejected, approved, waiting = (new_request(_iam_plan(role), mode=RolloutMode.ASSIST, requested_at=now, rules=rules)
                                   for role in ("ops-admin", "data-loader", "ci-runner"))
    produce_models(kafka, serde, catalogue + REMEDIATIONS.name,
                   [(r.request_id, r) for r in (rejected, approved, waiting)])
    for request in (rejected, approved, waiting):
        service.wait_for(request.request_id, "pending")
    assert service.http.get("/readyz").status_code == 200

    _decide(service, rejected.request_id, "alice@example.com", "rejected")
    service.wait_for(rejected.request_id, "rejected")
    _decide(service, approved.request_id, "alice@example.com", "approved")
    service.wait_for(approved.request_id, "pending", approvals=1)
    _decide(service, approved.request_id, "bob@example.com", "approved")
    service.wait_for(approved.request_id, "approved")

    desk = ServiceDesk(f"http://127.0.0.1:{service.port}", TOKEN)
    try:
        history = desk.history()
        # Finished requests only, the latest decision first; the pending one is not history.
        assert [(r.request_id, r.status) for r in history] == [(approved.request_id, "approved"),
                                                               (rejected.request_id, "rejected")]
        assert history[0].approvers == ("alice@example.com", "bob@example.com")
        assert history[0].plan_digest == approved.plan_digest and history[0].alert_id == approved.alert_id
        assert [r.request_id for r in desk.history(query=HistoryQuery(status="rejected"))] == [rejected.request_id]
        assert [r.request_id for r in desk.history(query=HistoryQuery(alert_id=approved.alert_id))] == \
            [approved.request_id]
        assert desk.history(query=HistoryQuery(since=now.date().replace(year=now.year + 1))) == []
        assert [r.request_id for r in desk.history(limit=1)] == [approved.request_id]

        # The service's history is behind the API token, and says what is wrong with a bad filter.
        assert service.http.get("/remediations/history").status_code == 401
        bad = service.http.get("/remediations/history", params={"since": "yesterday"},
                               headers={"Authorization": f"Bearer {TOKEN}"})
        assert bad.status_code == 400 and "since" in bad.text

        # The console's history page, served over the remote desk.
        app = build_console_app(desk, user_store(), session_secret="session-key-for-tests-0123456789",
                                links=LinkSigner(b"link-key-for-tests-0123456789", ttl_s=3600), secure_cookies=False)
        with TestClient(app, base_url="http://127.0.0.1") as console:
            login = console.get("/login")
            console.post("/login", data={"csrf": csrf_of(login.text), "username": "vera",
                                         "password": PASSWORDS["vera"], "next": "/"})
            page = console.get("/history")
            assert page.status_code == 200
            assert approved.request_id in page.text and rejected.request_id in page.text
            assert waiting.request_id not in page.text
            assert page.text.index(approved.request_id) < page.text.index(rejected.request_id)
            only_rejected = console.get("/history", params={"status": "rejected"}).text
            assert rejected.request_id in only_rejected and approved.request_id not in only_rejected
            by_alert = console.get("/history", params={"alert_id": approved.alert_id}).text
            assert approved.request_id in by_alert and rejected.request_id not in by_alert
    finally:
        desk.close()
    intruder = ServiceDesk(f"http://127.0.0.1:{service.port}", "wrong-token")
    try:
        with pytest.raises(httpx.HTTPStatusError):
            intruder.history()
    finally:
        intruder.close()
