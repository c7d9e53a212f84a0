"""History listings: the console's filters as one query the service and the console share, and when a
request counts as finished (the order a history is listed in)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from processors.records import Decision
from processors.remediation.approval import RequestStatus, apply_decision, open_request, tick
from processors.remediation.history import HistoryQuery, finished_at
from tests.processors.remediation.test_approval import KEYS, T0, _request, _vote


def test_an_empty_query_admits_everything_and_each_filter_narrows_it() -> None:
    assert HistoryQuery().admits("approved", "P-1", T0)
    assert not HistoryQuery(status="rejected").admits("approved", "P-1", T0)
    assert not HistoryQuery(alert_id="P-2").admits("approved", "P-1", T0)
    assert HistoryQuery(since=T0.date(), until=T0.date()).admits("expired", "P-1", T0)
    assert not HistoryQuery(since=T0.date() + timedelta(days=1)).admits("expired", "P-1", T0)
    assert not HistoryQuery(until=T0.date() - timedelta(days=1)).admits("expired", "P-1", T0)


def test_a_query_travels_as_url_parameters_and_back_unchanged() -> None:
    query = HistoryQuery(status="approved", alert_id="P-2001", since=date(2026, 3, 1), until=date(2026, 3, 2), limit=7)
    assert query.params() == {"status": "approved", "alert_id": "P-2001", "since": "2026-03-01",
                              "until": "2026-03-02", "limit": "7"}
    assert HistoryQuery.from_params(query.params()) == query
    assert HistoryQuery.from_params({"status": " ", "other": "x"}) == HistoryQuery()


@pytest.mark.parametrize("params, named", [({"since": "yesterday"}, "since"), ({"limit": "0"}, "limit"),
                                            ({"limit": "100000"}, "limit")])
def test_a_malformed_parameter_is_refused_naming_it(params: dict[str, str], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        HistoryQuery.from_params(params)


def test_a_request_finishes_at_its_last_approval_its_rejection_or_its_deadline() -> None:
    request = _request()  # production IAM: two approvals
    state = open_request(request).state
    state = apply_decision(state, _vote(request, "alice@example.com", hours=1), KEYS).state
    approved = apply_decision(state, _vote(request, "bob@example.com", hours=3), KEYS).state
    assert approved.status is RequestStatus.APPROVED and finished_at(approved) == T0 + timedelta(hours=3)

    rejected = apply_decision(state, _vote(request, "carol@example.com", hours=2, decision=Decision.REJECTED),
                              KEYS).state
    assert rejected.status is RequestStatus.REJECTED and finished_at(rejected) == T0 + timedelta(hours=2)

    assert request.expires_at is not None
    expired = tick(state, request.expires_at + timedelta(minutes=1)).state
    assert expired.status is RequestStatus.EXPIRED and finished_at(expired) == request.expires_at
    assert finished_at(state) == request.requested_at  # still pending: when it was raised
