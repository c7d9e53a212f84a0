"""The sink adapters speak only the ports' signals: each translates its system's errors once.

Back-pressure (:class:`TargetUnavailableError`, with the wait the server asked for), a record
refused for good (:class:`RecordRejectedError`, its cause kept for the dead letter) and a target no
record can reach (:class:`TargetUnusableError`), so that the sink worker never sorts HTTP errors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from pydantic import SecretStr

from connectors.base import (
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    RateLimitedError,
    RetriesExhaustedError,
    TransientError,
)
from connectors.ports import (
    Notification,
    RecordRejectedError,
    TargetUnavailableError,
    TargetUnusableError,
    TicketRef,
)
from connectors.sink_signals import sink_signals
from connectors.jira.settings import BasicAuth, JiraSettings
from connectors.jira.sink import JiraTicketTracker
from connectors.servicenow.settings import BasicAuth as SnBasicAuth
from connectors.servicenow.settings import ServiceNowSettings
from connectors.servicenow.sink import ServiceNowTicketTracker
from connectors.slack.client import ChatKind, ChatWebhookSettings
from connectors.slack.sink import ChatWebhookNotifier
from connectors.splunk.client import RejectedEvent, SendResult
from connectors.splunk.events import HecEvent
from connectors.splunk.settings import SplunkHecSettings
from connectors.splunk.sink import SplunkHecForwarder
from connectors.syslog.client import SyslogMessage, SyslogSettings
from connectors.syslog.sink import SyslogCefForwarder
from tests.factories import make_scored_alert, make_siem_event


def _exhausted(retry_after_s: float | None) -> RetriesExhaustedError:
    last = RateLimitedError("rate limited", retry_after_s=retry_after_s, status_code=429, method="POST", path="/x")
    return RetriesExhaustedError("gave up after 3 attempts", last_error=last, attempts=3)


# -- sink_signals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("error", "retry_after_s"), [
    (TransientError("server unavailable", retry_after_s=12.0, status_code=503), 12.0),
    (TransientError("transport error: ConnectError"), None),
    (_exhausted(7.5), 7.5),
    (_exhausted(None), None),
])
def test_an_outage_becomes_back_pressure_with_the_wait_the_server_asked_for(
        error: Exception, retry_after_s: float | None) -> None:
    with pytest.raises(TargetUnavailableError) as raised, sink_signals():
        raise error
    assert raised.value.retry_after_s == retry_after_s and raised.value.__cause__ is error


def test_the_listed_classes_become_unusable_or_rejected_and_the_rest_pass_unchanged() -> None:
    with pytest.raises(TargetUnusableError), sink_signals(unusable=(AuthenticationError,)):
        raise AuthenticationError("authentication rejected", status_code=401)
    with pytest.raises(RecordRejectedError) as rejected, sink_signals(rejected=(BadRequestError,)):
        raise BadRequestError("request rejected", status_code=400)
    assert isinstance(rejected.value.__cause__, BadRequestError)
    with pytest.raises(NotFoundError), sink_signals(unusable=(AuthenticationError,), rejected=(BadRequestError,)):
        raise NotFoundError("not found", status_code=404)


# -- ticket trackers -----------------------------------------------------------------------------


class TrackerDown:
    """A tracker client whose every call ends in the retry policy giving up on 429s."""

    async def find_by_fingerprint(self, fingerprint: str) -> None:
        raise _exhausted(4.0)

    async def find_by_correlation_id(self, fingerprint: str) -> None:
        raise _exhausted(4.0)

    async def aclose(self) -> None:
        return None


def _jira() -> JiraTicketTracker:
    settings = JiraSettings(base_url="https://example.atlassian.net", project_key="SEC",
                            auth=BasicAuth(email="bot@example.com", api_token=SecretStr("t")))
    return JiraTicketTracker(settings, TrackerDown())  # type: ignore[arg-type]


def _servicenow() -> ServiceNowTicketTracker:
    settings = ServiceNowSettings(instance_url="https://example.service-now.com",
                                  auth=SnBasicAuth(username="u", password=SecretStr("p")))
    return ServiceNowTicketTracker(settings, TrackerDown())  # type: ignore[arg-type]


@pytest.mark.parametrize("tracker", [_jira, _servicenow])
async def test_a_tracker_that_stays_busy_is_back_pressure_with_its_retry_after(tracker: Any) -> None:
    with pytest.raises(TargetUnavailableError) as raised:
        await tracker().find("fp-1")
    assert raised.value.retry_after_s == 4.0 and isinstance(raised.value.__cause__, RetriesExhaustedError)


# -- Splunk HEC -----------------------------------------------------------------------------------


class FakeHec:
    def __init__(self, *, fail: Exception | None = None, reject: Sequence[int] = ()) -> None:
        self.fail, self.reject = fail, reject
        self.sent: list[HecEvent] = []

    async def send(self, events: Sequence[HecEvent]) -> SendResult:
        if self.fail is not None:
            raise self.fail
        self.sent += events
        rejected = tuple(RejectedEvent(p, events[p].key, BadRequestError("invalid index", status_code=400))
                         for p in self.reject)
        return SendResult(sent=len(events) - len(rejected), batches=1, bytes_sent=1, rejected=rejected)

    async def aclose(self) -> None:
        return None


def _hec(fake: FakeHec) -> SplunkHecForwarder:
    return SplunkHecForwarder(SplunkHecSettings(url="http://hec.invalid:8088", token=SecretStr("t")), client=fake)


async def test_splunk_reports_the_events_hec_refused_by_position_with_their_cause() -> None:
    fake = FakeHec(reject=[1])
    events = [make_siem_event(event_id=f"00000000-0000-4000-8000-00000000000{i}") for i in range(3)]

    result = await _hec(fake).forward(events)

    assert result.sent == 2 and list(result.rejected) == [1] and len(fake.sent) == 3
    assert isinstance(result.rejected[1].__cause__, BadRequestError)


@pytest.mark.parametrize(("error", "signal"), [
    (TransientError("server unavailable", status_code=503), TargetUnavailableError),
    (_exhausted(3.0), TargetUnavailableError),
    (AuthenticationError("token disabled", status_code=403), TargetUnusableError),
])
async def test_splunk_turns_its_failures_into_the_ports_signals(error: Exception, signal: type[Exception]) -> None:
    with pytest.raises(signal):
        await _hec(FakeHec(fail=error)).forward([make_siem_event()])


# -- syslog ---------------------------------------------------------------------------------------


class FakeSyslog:
    def __init__(self, fail: Exception | None = None) -> None:
        self.fail = fail
        self.messages: list[SyslogMessage] = []

    async def send_many(self, messages: Sequence[SyslogMessage]) -> None:
        if self.fail is not None:
            raise self.fail
        self.messages += messages

    async def aclose(self) -> None:
        return None


async def test_syslog_sends_one_cef_message_per_event_and_pauses_while_the_receiver_is_away() -> None:
    fake = FakeSyslog()
    forwarder = SyslogCefForwarder(SyslogSettings(host="127.0.0.1", port=6514), client=fake,
                                   console_base_url="https://console.example/alerts/")

    result = await forwarder.forward([make_siem_event()])

    assert result.sent == 1 and not result.rejected
    assert fake.messages[0].msg.startswith("CEF:0|") and "https://console.example/alerts/" in fake.messages[0].msg
    fake.fail = TransientError("receiver unreachable")
    with pytest.raises(TargetUnavailableError):
        await forwarder.forward([make_siem_event()])


# -- chat -----------------------------------------------------------------------------------------


class FakePoster:
    def __init__(self, fail: Exception | None = None) -> None:
        self.fail = fail
        self.bodies: list[Mapping[str, Any]] = []

    async def post(self, payload: Mapping[str, Any]) -> None:
        if self.fail is not None:
            raise self.fail
        self.bodies.append(payload)

    async def aclose(self) -> None:
        return None


def _notifier(kind: ChatKind, poster: FakePoster) -> ChatWebhookNotifier:
    return ChatWebhookNotifier(ChatWebhookSettings(kind=kind, url=SecretStr("https://hooks.example/x")), client=poster)


async def test_chat_posts_the_body_of_its_kind_with_the_links() -> None:
    slack, teams = FakePoster(), FakePoster()
    ticket = TicketRef("SEC-7", "https://jira.example/browse/SEC-7")
    notification = Notification(make_scored_alert(), ticket_url=ticket.url, ticket_key=ticket.key,
                                approval_url="https://prismaflow.example/approve/a-1")

    await _notifier(ChatKind.SLACK, slack).notify(notification)
    await _notifier(ChatKind.TEAMS, teams).notify(notification)

    assert "blocks" in slack.bodies[0] and "attachments" in teams.bodies[0]
    assert "https://jira.example/browse/SEC-7" in str(slack.bodies[0]) and "SEC-7" in str(teams.bodies[0])


@pytest.mark.parametrize(("error", "signal"), [
    (_exhausted(30.0), TargetUnavailableError),
    (NotFoundError("no_service", status_code=404), TargetUnusableError),
    (AuthenticationError("invalid_token", status_code=403), TargetUnusableError),
    (BadRequestError("invalid_blocks", status_code=400), RecordRejectedError),
])
async def test_chat_turns_its_failures_into_the_ports_signals(error: Exception, signal: type[Exception]) -> None:
    with pytest.raises(signal) as raised:
        await _notifier(ChatKind.SLACK, FakePoster(error)).notify(Notification(make_scored_alert()))
    assert raised.value.__cause__ is error


async def test_a_link_that_is_not_http_is_a_rejected_notification_not_a_crash() -> None:
    poster = FakePoster()
    with pytest.raises(RecordRejectedError):
        await _notifier(ChatKind.SLACK, poster).notify(Notification(make_scored_alert(), approval_url="javascript:x"))
    assert poster.bodies == []
