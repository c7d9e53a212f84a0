"""The ServiceNow client against the simulator: mapping, idempotency, lifecycle, retries, errors."""

from __future__ import annotations

import logging

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from connectors.base import (
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    RetriesExhaustedError,
    TransientError,
)
from connectors.servicenow.client import (
    DataPolicyError,
    ServiceNowClient,
    TicketDraft,
    build_create_fields,
)
from connectors.servicenow.settings import BasicAuth, BearerAuth, ServiceNowTable
from connectors.servicenow.simulator import ServiceNowSimulator
from connectors.simkit import SimClock
from processors.models import RiskTier
from tests.connectors.servicenow.conftest import (
    INSTANCE,
    SimFactory,
    SnFactory,
    make_settings,
    sim_stats,
)

FP = "3f1c0d9e8b7a65432100fedcba9876543210abcdef0123456789abcdef012345"


def draft(**overrides: object) -> TicketDraft:
    values: dict[str, object] = {
        "fingerprint": FP,
        "title": "AWS EC2 instance with IMDSv1 enabled and public IP on i-0abc123def4567890",
        "description": "Internet-exposed production instance allows IMDSv1.\n\nFix: require IMDSv2.",
        "tier": RiskTier.CRITICAL,
        "team": "platform",
    }
    values.update(overrides)
    return TicketDraft.model_validate(values)


# -- mapping (pure) --------------------------------------------------------------------------------


def test_mapping_routes_by_owner_then_team_then_default() -> None:
    settings = make_settings()
    assert build_create_fields(draft(owner="alice@example.com"), settings)["assignment_group"] == "b" * 32
    assert build_create_fields(draft(), settings)["assignment_group"] == "a" * 32
    assert build_create_fields(draft(team="nobody"), settings)["assignment_group"] == "c" * 32


def test_mapping_clips_short_description_and_maps_tiers() -> None:
    settings = make_settings()
    fields = build_create_fields(draft(title="x " * 200, tier=RiskTier.LOW), settings)
    assert len(fields["short_description"]) == 160
    assert fields["short_description"].endswith("…")
    assert (fields["urgency"], fields["impact"]) == ("3", "2")
    assert fields["correlation_id"] == FP
    assert fields["correlation_display"] == "Prismaflow"
    assert "caller_id" not in fields  # empty defaults are not sent


def test_settings_reject_unknown_keys_and_incomplete_tier_maps() -> None:
    with pytest.raises(ValidationError):
        make_settings(colour="blue")
    with pytest.raises(ValidationError):
        make_settings(urgency_by_tier={RiskTier.LOW: "3"})


def test_secrets_do_not_show_in_settings_repr() -> None:
    settings = make_settings(auth=BearerAuth(token=SecretStr("tok-123")))
    assert "tok-123" not in repr(settings)


# -- create / find -------------------------------------------------------------------------------


async def test_create_applies_the_mapping(sn: ServiceNowClient, sim: ServiceNowSimulator) -> None:
    record = await sn.create(draft())
    assert record.number == "INC0010001"
    assert len(record.sys_id) == 32 and int(record.sys_id, 16) >= 0
    stored = sim.records()[0]
    assert stored["urgency"] == "1" and stored["impact"] == "1"
    assert stored["priority"] == "1"  # computed by the instance, not sent
    assert stored["assignment_group"] == "a" * 32
    assert stored["category"] == "security"
    assert stored["correlation_id"] == FP
    assert stored["state"] == "1" and stored["incident_state"] == "1"
    assert record.raw["assignment_group"] == "a" * 32  # exclude_reference_link: a plain value
    assert sn.record_url(record).endswith(f"incident.do?sys_id={record.sys_id}")


async def test_find_by_correlation_id_finds_the_record_made_before_a_crash(
    make_client: SnFactory, sim: ServiceNowSimulator, http: httpx.AsyncClient
) -> None:
    first = make_client()
    created, was_new = await first.ensure(draft())
    assert was_new
    # The process dies before committing its offset; a new one replays the same message.
    second = make_client()
    found, was_new = await second.ensure(draft())
    assert not was_new and found.sys_id == created.sys_id
    assert len(sim.records()) == 1
    stats = await sim_stats(http)
    assert stats["POST /api/now/table/{table}"]["calls"] == 1


async def test_find_sends_the_documented_query(sn: ServiceNowClient) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"result": []})

    async with ServiceNowClient(make_settings(), client=httpx.AsyncClient(
            transport=httpx.MockTransport(handler))) as client:
        assert await client.find_by_correlation_id(FP) is None
        await client.find_by_correlation_id(FP, include_inactive=True)
    active, anystate = (r.url.params for r in seen)
    assert active["sysparm_query"] == f"correlation_id={FP}^active=true^ORDERBYDESCsys_created_on"
    assert anystate["sysparm_query"] == f"correlation_id={FP}^ORDERBYDESCsys_created_on"
    assert active["sysparm_display_value"] == "false"
    assert active["sysparm_exclude_reference_link"] == "true"
    assert active["sysparm_limit"] == "5"
    assert "correlation_id" in active["sysparm_fields"].split(",")
    assert seen[0].headers["accept"] == "application/json"


async def test_find_rejects_fingerprints_that_would_inject_query_syntax(sn: ServiceNowClient) -> None:
    with pytest.raises(ValueError):
        await sn.find_by_correlation_id("abc^ORactive=false")


async def test_closed_records_are_found_only_with_include_inactive(sn: ServiceNowClient) -> None:
    record = await sn.create(draft())
    await sn.resolve(record.sys_id)
    await sn.update(record.sys_id, fields={"state": "7"})
    assert await sn.find_by_correlation_id(FP) is None
    found = await sn.find_by_correlation_id(FP, include_inactive=True)
    assert found is not None and found.sys_id == record.sys_id and not found.active


async def test_duplicates_are_logged_and_the_newest_returned(
    sn: ServiceNowClient, clock: SimClock, caplog: pytest.LogCaptureFixture
) -> None:
    await sn.create(draft())
    clock.advance(5)
    newer = await sn.create(draft())
    with caplog.at_level(logging.WARNING):
        found = await sn.find_by_correlation_id(FP)
    assert found is not None and found.sys_id == newer.sys_id
    assert "duplicate correlation_id" in caplog.text


# -- lifecycle -------------------------------------------------------------------------------------


async def test_update_appends_work_notes(sn: ServiceNowClient, sim: ServiceNowSimulator) -> None:
    record = await sn.create(draft())
    await sn.add_work_note(record.sys_id, "Seen again at 10:00")
    updated = await sn.update(record.sys_id, work_notes="Seen again at 11:00",
                              fields={"urgency": "2"})
    assert updated.raw["work_notes"] == ""  # journals read back empty, as on an instance
    assert updated.raw["priority"] == "2"  # recomputed from impact 1 x urgency 2
    assert sim.store.journal(record.sys_id) == ["Seen again at 10:00", "Seen again at 11:00"]
    assert updated.raw["sys_mod_count"] == "2"


async def test_resolve_with_close_code_then_reopen(sn: ServiceNowClient,
                                                   sim: ServiceNowSimulator) -> None:
    record = await sn.create(draft())
    resolved = await sn.resolve(record.sys_id, work_notes="Alert resolved in Prisma Cloud")
    assert resolved.state == "6" and resolved.active
    stored = sim.records()[0]
    assert stored["close_code"] == "Resolved by caller"
    assert stored["close_notes"].startswith("Resolved in Prisma Cloud")
    assert stored["resolved_at"]
    reopened = await sn.reopen(record.sys_id, "The alert is open again")
    assert reopened.state == "2" and reopened.raw["resolved_at"] == ""
    assert sim.store.journal(record.sys_id) == ["Alert resolved in Prisma Cloud",
                                                "The alert is open again"]


async def test_legacy_close_code_from_settings(make_client: SnFactory,
                                               sim: ServiceNowSimulator) -> None:
    sn = make_client(close_code="Solved (Permanently)")
    record = await sn.create(draft())
    await sn.resolve(record.sys_id)
    assert sim.records()[0]["close_code"] == "Solved (Permanently)"


async def test_resolving_without_close_fields_is_a_data_policy_error(
    sn: ServiceNowClient
) -> None:
    record = await sn.create(draft())
    with pytest.raises(DataPolicyError) as info:
        await sn.update(record.sys_id, fields={"state": "6"})
    assert info.value.status_code == 403
    assert "Resolution code" in info.value.body_excerpt
    assert isinstance(info.value, BadRequestError)


async def test_closed_incident_cannot_be_reopened(sn: ServiceNowClient) -> None:
    record = await sn.create(draft())
    await sn.resolve(record.sys_id)
    await sn.update(record.sys_id, fields={"state": "7"})
    with pytest.raises(AuthenticationError) as info:
        await sn.reopen(record.sys_id, "again")
    assert "ACL" in info.value.body_excerpt


async def test_get_missing_record_is_not_found(sn: ServiceNowClient) -> None:
    with pytest.raises(NotFoundError) as info:
        await sn.get("0" * 32)
    assert "No Record found" in info.value.body_excerpt


# -- retries and errors -------------------------------------------------------------------------


async def test_429_retry_after_is_honoured(make_sim: SimFactory, clock: SimClock) -> None:
    sim = make_sim(rate_limit_per_hour=2)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim)) as http:
        sn = ServiceNowClient(make_settings(), client=http, sleep=clock.sleep, rng=lambda: 1.0)
        clock.advance(3600 * 500_000 + 3570.0 - clock.now())  # 30 s before the hourly window resets
        record = await sn.create(draft())
        await sn.get(record.sys_id)
        again = await sn.get(record.sys_id)  # third call: 429, waits for the window, succeeds
        assert again.sys_id == record.sys_id
        assert clock.sleeps == [30.0]
        stats = await sim_stats(http)
        assert stats["GET /api/now/table/{table}/{sys_id}"]["statuses"] == {"200": 2, "429": 1}


async def test_injected_429_uses_retry_after(sn: ServiceNowClient, http: httpx.AsyncClient,
                                             clock: SimClock) -> None:
    await http.post(f"{INSTANCE}/_sim/faults", json={"kind": "429", "count": 2,
                                                     "retry_after_s": 7})
    await sn.create(draft())
    assert clock.sleeps == [7.0, 7.0]


async def test_503_outage_is_transient_after_the_policy_gives_up(
    sn: ServiceNowClient, http: httpx.AsyncClient, clock: SimClock
) -> None:
    await http.post(f"{INSTANCE}/_sim/faults", json={"kind": "503", "duration_s": 3600})
    with pytest.raises(RetriesExhaustedError) as info:
        await sn.create(draft())
    assert isinstance(info.value.last_error, TransientError)
    assert info.value.attempts == 4
    assert info.value.status_code == 503
    assert clock.sleeps == [0.5, 1.0, 2.0]  # full jitter with rng=1: the ceilings
    stats = await sim_stats(http)
    assert stats["POST /api/now/table/{table}"]["statuses"] == {"503": 4}


async def test_short_503_outage_is_ridden_out(sn: ServiceNowClient, http: httpx.AsyncClient) -> None:
    await http.post(f"{INSTANCE}/_sim/faults", json={"kind": "503", "count": 2})
    record = await sn.create(draft())
    assert record.number == "INC0010001"


async def test_bad_credentials_are_authentication_errors(make_client: SnFactory) -> None:
    sn = make_client(auth=BasicAuth(username="prismaflow", password=SecretStr("wrong")))
    with pytest.raises(AuthenticationError) as info:
        await sn.create(draft())
    assert info.value.status_code == 401
    assert "wrong" not in str(info.value)
    assert "User Not Authenticated" in info.value.body_excerpt


async def test_bearer_token_works_and_a_bad_one_is_rejected(make_client: SnFactory) -> None:
    good = make_client(auth=BearerAuth(token=SecretStr("sim-token")))
    assert (await good.create(draft())).number == "INC0010001"
    bad = make_client(auth=BearerAuth(token=SecretStr("nope")))
    with pytest.raises(AuthenticationError):
        await bad.find_by_correlation_id(FP)


async def test_read_only_user_gets_403(make_client: SnFactory) -> None:
    sn = make_client(auth=BasicAuth(username="auditor", password=SecretStr("sim-password")))
    assert await sn.find_by_correlation_id(FP) is None  # reading is allowed
    with pytest.raises(AuthenticationError) as info:
        await sn.create(draft())
    assert info.value.status_code == 403
    assert not isinstance(info.value, DataPolicyError)


async def test_invalid_state_is_a_bad_request(sn: ServiceNowClient) -> None:
    record = await sn.create(draft())
    with pytest.raises(BadRequestError) as info:
        await sn.update(record.sys_id, fields={"state": "42"})
    assert info.value.status_code == 400
    assert "Invalid state" in info.value.body_excerpt


# -- sn_si_incident ------------------------------------------------------------------------------


async def test_security_incident_table(make_client: SnFactory, sim: ServiceNowSimulator) -> None:
    sn = make_client(table=ServiceNowTable.SECURITY_INCIDENT)
    record = await sn.create(draft(fields={"risk_score": "87", "business_criticality": "1"}))
    assert record.number == "SIR0010001" and record.state == "10"  # Draft
    stored = sim.records("sn_si_incident")[0]
    assert stored["risk_score"] == "87" and stored["business_criticality"] == "1"
    resolved = await sn.resolve(record.sys_id)
    assert resolved.state == "3" and not resolved.active  # SIR closes to resolve
    assert await sn.find_by_correlation_id(FP) is None
    reopened = await sn.reopen(record.sys_id, "Back again")
    assert reopened.state == "16" and reopened.active  # Analysis
    assert sim.records() == []  # nothing landed in incident


async def test_security_incident_not_installed_is_not_found(make_sim: SimFactory) -> None:
    sim = make_sim(installed_tables=frozenset({"incident"}))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim)) as http:
        sn = ServiceNowClient(make_settings(table=ServiceNowTable.SECURITY_INCIDENT), client=http)
        with pytest.raises(NotFoundError):
            await sn.create(draft())
