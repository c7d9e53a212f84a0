"""Specification of the asset graph (processors/graph): links from payloads, host aliases, and
incidents that span an instance, its role, its security group and the images it runs."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from processors.graph.derive import Edge, derive, host_aliases
from processors.graph.resolve import resolve_onto
from processors.graph.state import live, upsert
from processors.models import AlertStatus, Module, RawAlert, RiskTier, ScoredAlert
from processors.normalise import normalise, normalise_with_data
from processors.records import TicketState, Tracker
from processors.tickets import OPEN, TicketAction, TicketRules, decide, fingerprint, sync_hash
from tests.processors import payloads as p
from tests.processors.graph_core import POLICY, GraphCore

INSTANCE = f"aws:{p.ACCOUNT}:us-east-1:instance/{p.INSTANCE}"
ROLE = f"aws:{p.ACCOUNT}:global:role/web"
SG = f"aws:{p.ACCOUNT}:us-east-1:security-group/{p.SECURITY_GROUP}"
IMAGE = f"other::global:image/{p.IMAGE_ID}"


def _raw(source: str, payload: object, minutes: int = 0, alert_id: str = "P-1") -> RawAlert:
    return p.raw(source, payload, alert_id=alert_id, received_at=p.RECEIVED + timedelta(minutes=minutes))


def role(minutes: int = 0, status: str = "open") -> RawAlert:
    return _raw("cspm_api", p.cspm_role_alert(status=status, last_seen=p.T0_MS + minutes * 60_000), minutes)


def security_group(minutes: int = 0, status: str = "open") -> RawAlert:
    return _raw("cspm_api", p.cspm_security_group_alert(status=status, last_seen=p.T0_MS + minutes * 60_000), minutes)


def instance_config(minutes: int = 0, **config: object) -> RawAlert:
    data = p.instance_config(**config)  # type: ignore[arg-type]
    return _raw("cspm_api", p.cspm_imds_alert(data=data, last_seen=p.T0_MS + minutes * 60_000), minutes)


def host_vulns(minutes: int = 0, **kw: object) -> RawAlert:
    scan = p.compute_host_scan(scan_time=f"2024-06-10T09:{5 + minutes:02d}:00Z", **kw)  # type: ignore[arg-type]
    return _raw("compute_api", p.compute_api("host_scan", scan), minutes)


# --- what payloads prove -------------------------------------------------------------------------


def test_an_instance_configuration_links_its_role_and_security_groups_and_names_its_host() -> None:
    alert, data = normalise_with_data(instance_config())
    derived = derive(alert, data)
    assert set(derived.edges) == {Edge(INSTANCE, ROLE, "instance_profile"), Edge(INSTANCE, SG, "security_group")}
    assert derived.authoritative == {"instance_profile", "security_group"}
    assert f"aws:{p.ACCOUNT}:us-east-1:host/{p.HOSTNAME}" in derived.aliases
    assert f"other::global:host/{p.HOSTNAME}" in derived.aliases
    assert f"aws:{p.ACCOUNT}:us-east-1:host/ip-10-20-3-41" in derived.aliases  # the short host name too


def test_a_role_arn_as_instance_profile_names_the_role_and_findings_without_config_prove_nothing() -> None:
    payload = p.cspm_imds_alert(data={**p.instance_config(profile=None), "iamInstanceProfile": {"arn": p.ROLE_ARN}})
    alert, data = normalise_with_data(_raw("cspm_api", payload))
    assert Edge(INSTANCE, ROLE, "instance_profile") in derive(alert, data).edges
    vulns, vdata = normalise_with_data(host_vulns())
    assert derive(vulns, vdata).empty
    sg_alert, sg_data = normalise_with_data(security_group())
    assert derive(sg_alert, sg_data).empty  # describe-security-groups does not list instances


def test_an_image_scan_links_the_image_to_the_hosts_running_it() -> None:
    scan = p.compute_image_scan()
    scan["hosts"] = {p.HOSTNAME: {"modified": "2024-06-10T09:05:00Z"}}
    scan["instances"] = [{"image": "shop/checkout:1.14.2", "host": "ip-10-9-9-9.ec2.internal"}]
    alert, data = normalise_with_data(_raw("compute_api", p.compute_api("image_scan", scan)))
    assert alert.resource.asset_id == IMAGE
    assert set(derive(alert, data).edges) == {
        Edge(f"other::global:host/{p.HOSTNAME}", IMAGE, "runs_image"),
        Edge("other::global:host/ip-10-9-9-9.ec2.internal", IMAGE, "runs_image")}


def test_only_instances_have_host_aliases() -> None:
    alert, data = normalise_with_data(security_group())
    assert host_aliases(alert, data) == ()


def test_a_host_known_by_name_moves_onto_its_instance_as_if_compute_had_known_the_instance() -> None:
    known = normalise(host_vulns())
    by_name = normalise(host_vulns(instance=""))
    assert by_name.resource.asset_id == f"aws:{p.ACCOUNT}:us-east-1:host/{p.HOSTNAME}"
    moved = resolve_onto(by_name, INSTANCE)
    assert (moved.resource.asset_id, moved.alert_id, moved.content_hash) == (
        known.resource.asset_id, known.alert_id, known.content_hash)
    with pytest.raises(ValueError):
        resolve_onto(normalise(role()), INSTANCE)  # only a host name is ever resolved


# --- the acceptance: role + instance vulnerability + open security group = one incident ------------


ACCEPTANCE = ("role", "security_group", "host_vulns", "instance_config")


def _records(order: tuple[str, ...]) -> list[RawAlert]:
    makers = {"role": role, "security_group": security_group, "host_vulns": host_vulns,
              "instance_config": instance_config}
    return [makers[name](minutes=i) for i, name in enumerate(order)]


def _last(scored: list[ScoredAlert]) -> dict[str, ScoredAlert]:
    return {s.alert.alert_id: s for s in scored}


@pytest.mark.parametrize("order", list(itertools.permutations(ACCEPTANCE)))
def test_role_vulnerability_and_open_security_group_form_one_incident_in_any_order(order: tuple[str, ...]) -> None:
    core = GraphCore()
    for record in _records(order):
        core.feed(record)
    last = _last(core.scored)
    role_id, sg_id = "P-3000003", "P-3000004"
    vulns_id = f"cwpp:host-vulns:{p.ACCOUNT}:{p.HOSTNAME}"
    incident = last[vulns_id].incident_id
    assert incident is not None
    # Every member's latest record names the incident, whichever partition it lives in.
    assert {last[a].incident_id for a in (role_id, sg_id, vulns_id, "P-3000005")} == {incident}
    assert set(last[vulns_id].incident_members) == {role_id, sg_id, vulns_id, "P-3000005"}
    assert last[role_id].alert.resource.asset_id == ROLE and last[sg_id].alert.resource.asset_id == SG
    factor = next(f for f in last[vulns_id].factors if f.name == "correlation")
    assert factor.value == 1.0 and "risky combination: exposure + iam + exploitable" in factor.reason
    assert {Module.CIEM, Module.CSPM, Module.CWPP} <= {last[a].alert.module for a in last}


def test_members_scored_before_the_incident_formed_are_re_emitted_with_its_id() -> None:
    core = GraphCore()
    first = core.feed(role(0), security_group(1))
    assert all(s.incident_id is None for s in first)  # nothing links them yet
    core.feed(host_vulns(2))
    out = core.feed(instance_config(3))
    updates = {s.alert.alert_id: s for s in out if s.incident_update}
    assert {"P-3000003", "P-3000004", f"cwpp:host-vulns:{p.ACCOUNT}:{p.HOSTNAME}"} <= set(updates)
    assert len({s.incident_id for s in out}) == 1
    assert all(s.update_kind.value == "recurrence" for s in updates.values())


def test_a_security_group_the_instance_leaves_leaves_its_incident() -> None:
    core = GraphCore()
    core.feed(*_records(ACCEPTANCE))
    out = core.feed(instance_config(10, groups=()))  # detached from the group
    last = _last(core.scored)
    assert "P-3000004" not in last[f"cwpp:host-vulns:{p.ACCOUNT}:{p.HOSTNAME}"].incident_members
    assert any(s.incident_update for s in out)
    assert SG not in {n.asset_id for n in core.view(INSTANCE).graph.satellites}  # type: ignore[union-attr]


def test_a_closed_role_finding_leaves_the_incident_and_says_which_one() -> None:
    core = GraphCore()
    core.feed(*_records(ACCEPTANCE))
    incident = core.incident_of("P-3000005")
    out = core.feed(role(10, status="resolved"))
    closed = [s for s in out if s.alert.alert_id == "P-3000003" and s.alert.status is AlertStatus.RESOLVED]
    assert any(s.incident_id == incident and s.incident_update for s in closed)
    assert "P-3000003" not in _last(core.scored)["P-3000005"].incident_members


def test_replaying_the_same_records_emits_nothing_new() -> None:
    core = GraphCore()
    records = _records(ACCEPTANCE)
    core.feed(*records)
    assert core.feed(*records) == []


def test_a_host_known_only_by_name_joins_its_instance_once_the_configuration_named_it() -> None:
    core = GraphCore()
    core.feed(instance_config(0), security_group(1))
    audit = p.compute_audit(_id="a-1")  # hostname, provider, account, region; no resourceID
    out = core.feed(_raw("compute_api", p.compute_api("runtime_audit", audit), 2))
    own = next(s for s in out if s.alert.alert_id == "cwpp:audit:a-1")
    assert own.alert.resource.asset_id == INSTANCE
    assert own.incident_id is not None and "P-3000004" in own.incident_members


def test_a_private_ip_host_name_claimed_in_two_accounts_is_not_resolved() -> None:
    core = GraphCore()
    core.feed(instance_config(0))
    other = p.cspm_imds_alert(alert_id="P-9", account="210987654321", resource_id="i-0fffffffffffffff0",
                              data=p.instance_config(instance="i-0fffffffffffffff0"))
    core.feed(_raw("cspm_api", other, 1))
    body = p.compute_webhook_host_vulns()
    out = core.feed(_raw("compute_webhook", body, 2))
    assert out[0].alert.resource.asset_id == f"other::global:host/{p.HOSTNAME}"  # ambiguous: left alone


def test_an_image_running_on_the_instance_brings_its_vulnerabilities_into_the_incident() -> None:
    core = GraphCore()
    core.feed(instance_config(0), host_vulns(1))
    scan = p.compute_image_scan()
    scan["hosts"] = {p.HOSTNAME: {"modified": "2024-06-10T09:05:00Z"}}
    out = core.feed(_raw("compute_api", p.compute_api("image_scan", scan), 2))
    image = [s for s in out if s.alert.resource.asset_id == IMAGE]
    assert any(s.incident_update and s.incident_id == core.incident_of("P-3000005") for s in image)


# --- the incident's ticket ------------------------------------------------------------------------


def _ticket_priorities(scored: list[ScoredAlert]) -> list[RiskTier]:
    """Apply the ticket decisions as the sink does; return the incident ticket's tier after each."""
    states: dict[str, TicketState] = {}
    tiers: list[RiskTier] = []
    for s in scored:
        fp = fingerprint(s)
        decision = decide(states.get(fp), s, TicketRules(min_tier=RiskTier.LOW), p.RECEIVED)
        if decision.action is TicketAction.NONE:
            continue
        states[fp] = TicketState(fingerprint=fp, tracker=Tracker.JIRA, ticket_key="SEC-1", status=OPEN,
                                 last_synced_hash=sync_hash(s, decision.alert_ids, decision.tier, decision.score),
                                 alert_ids=list(decision.alert_ids), updated_at=p.RECEIVED,
                                 member_risk=dict(decision.member_risk))
        if fp.startswith("inc-"):
            tiers.append(decision.tier)
    return tiers


@pytest.mark.parametrize("order", [ACCEPTANCE, tuple(reversed(ACCEPTANCE))])
def test_the_incident_ticket_priority_never_drops_while_its_worst_member_is_open(order: tuple[str, ...]) -> None:
    core = GraphCore()
    core.feed(*_records(order))
    core.feed(role(20), security_group(21))  # re-polled: nothing changes
    core.feed(instance_config(22, groups=(p.SECURITY_GROUP, "sg-0aaaaaaaaaaaaaaaa")))  # members re-emitted
    tiers = _ticket_priorities(core.scored)
    order_of = [RiskTier.LOW, RiskTier.MEDIUM, RiskTier.HIGH, RiskTier.CRITICAL]
    assert tiers and all(order_of.index(b) >= order_of.index(a) for a, b in zip(tiers, tiers[1:]))


def test_the_cheaper_re_emission_mode_still_gives_every_member_the_incident_id() -> None:
    corr = POLICY.correlation.model_copy(update={"graph": POLICY.correlation.graph.model_copy(
        update={"reemit_members": "changed"})})
    lean, full = GraphCore(POLICY.model_copy(update={"correlation": corr})), GraphCore()
    for core in (lean, full):
        core.feed(*_records(ACCEPTANCE))
    assert _last(lean.scored).keys() == _last(full.scored).keys()
    assert {s.incident_id for s in _last(lean.scored).values()} == {s.incident_id for s in _last(full.scored).values()}
    assert sum(s.incident_update for s in lean.scored) < sum(s.incident_update for s in full.scored)


def test_a_link_confirmed_again_soon_is_not_rewritten_and_one_not_confirmed_expires() -> None:
    settings = POLICY.correlation.graph
    links, _ = upsert((), ROLE, "instance_profile", p.RECEIVED, settings)
    again, before = upsert(links, ROLE, "instance_profile", p.RECEIVED + timedelta(minutes=5), settings)
    assert again is links and before is not None  # nothing to write to the changelog
    later = p.RECEIVED + settings.link_ttl + timedelta(hours=1)
    assert live(links, later, settings) == ()
