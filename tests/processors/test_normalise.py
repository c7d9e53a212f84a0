"""Specification of normalise (processors/normalise): every source, errors, and properties."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processors.errors import InvalidRecordError
from processors.models import Alert, AlertSource, AlertStatus, Module, Severity
from processors.normalise import (
    compute_alert_id,
    normalise,
    normalise_with_data,
    split_compute_webhook,
)
from processors.normalise.compute_webhook import compute_webhook_alert_id
from tests.processors import payloads as p

INSTANCE_ASSET = f"aws:{p.ACCOUNT}:us-east-1:instance/{p.INSTANCE}"


# --- CSPM API ---------------------------------------------------------------------------------

def test_cspm_api_item_maps_every_field() -> None:
    alert = normalise(p.raw("cspm_api", p.cspm_alert()))
    assert alert.alert_id == "P-2741093"
    assert alert.source is AlertSource.CSPM_API
    assert alert.module is Module.CSPM
    assert alert.severity is Severity.HIGH
    assert alert.status is AlertStatus.OPEN
    assert alert.status_reason == "NEW_ALERT"
    assert alert.policy_type == "config"
    assert alert.policy_name.startswith("AWS S3 bucket publicly readable")
    assert alert.resource.asset_id == f"aws:{p.ACCOUNT}:global:bucket/acme-public-assets"
    assert alert.resource.resource_type == "STORAGE_BUCKET"
    assert alert.resource.region == "us-east-1"
    assert alert.resource.tags == {"env": "prod", "owner": "web-team"}
    assert [c.standard for c in alert.compliance] == ["CIS v1.4.0 (AWS)", "PCI DSS v3.2.1"]
    assert alert.first_seen == datetime.fromtimestamp(p.T0_MS / 1000, tz=UTC)
    assert alert.ingested_at == p.RECEIVED
    assert json.loads(alert.enrichment.resource_config_json)["policyStatus"] == {"isPublic": True}


@pytest.mark.parametrize(
    ("policy_type", "module"),
    [
        ("config", Module.CSPM), ("network", Module.CSPM), ("audit_event", Module.CSPM),
        ("anomaly", Module.CSPM), ("data", Module.CSPM), ("iam", Module.CIEM),
        ("workload_vulnerability", Module.CWPP), ("workload_incident", Module.CWPP),
        ("iac", Module.CODE), ("build", Module.CODE), ("secrets", Module.CODE),
    ],
)
def test_module_follows_policy_type(policy_type: str, module: Module) -> None:
    assert normalise(p.raw("cspm_api", p.cspm_alert(policy_type=policy_type))).module is module


def test_account_groups_come_from_cloud_account_groups_in_both_cspm_shapes() -> None:
    item = p.cspm_alert()
    item["resource"]["cloudAccountGroups"] = ["Production", "", 7, "Default Account Group"]
    assert normalise(p.raw("cspm_api", item)).resource.account_groups == ["Production", "Default Account Group"]
    hook = p.cspm_webhook_item()
    hook.setdefault("resource", {})["cloudAccountGroups"] = ["Production"]
    assert normalise(p.raw("cspm_webhook", hook)).resource.account_groups == ["Production"]
    assert normalise(p.raw("cspm_api", p.cspm_alert())).resource.account_groups == []


def test_build_only_config_policy_is_code_security() -> None:
    payload = p.cspm_alert()
    payload["policy"]["policySubTypes"] = ["build"]
    assert normalise(p.raw("cspm_api", payload)).module is Module.CODE


@pytest.mark.parametrize(
    ("status", "expected"),
    [("open", AlertStatus.OPEN), ("pending_resolution", AlertStatus.OPEN), ("resolved", AlertStatus.RESOLVED),
     ("dismissed", AlertStatus.DISMISSED), ("snoozed", AlertStatus.SNOOZED), ("RESOLVED", AlertStatus.RESOLVED)],
)
def test_status_mapping(status: str, expected: AlertStatus) -> None:
    assert normalise(p.raw("cspm_api", p.cspm_alert(status=status))).status is expected


def test_severity_is_lower_cased_and_validated() -> None:
    assert normalise(p.raw("cspm_api", p.cspm_alert(severity="Critical"))).severity is Severity.CRITICAL
    assert normalise(p.raw("cspm_api", p.cspm_alert(severity="informational"))).severity is Severity.INFORMATIONAL
    with pytest.raises(InvalidRecordError, match="policy.severity"):
        normalise(p.raw("cspm_api", p.cspm_alert(severity="urgent")))


def test_missing_severity_says_detailed_true_is_needed() -> None:
    payload = p.cspm_alert()
    del payload["policy"]["severity"]
    with pytest.raises(InvalidRecordError, match="policy.severity") as info:
        normalise(p.raw("cspm_api", payload))
    assert info.value.stage == "normalise"


@pytest.mark.parametrize(("path", "message"), [(("id",), "id missing"), (("resource",), "resource missing"),
                                               (("resource", "id"), "resource.id missing"), (("status",), "status")])
def test_missing_required_field_is_named(path: tuple[str, ...], message: str) -> None:
    payload = p.cspm_alert()
    target: Any = payload
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    with pytest.raises(InvalidRecordError, match=message):
        normalise(p.raw("cspm_api", payload))


def test_content_hash_is_stable_across_repolls_and_moves_on_meaningful_change() -> None:
    base = normalise(p.raw("cspm_api", p.cspm_alert()))
    repoll = p.cspm_alert(last_seen=p.T0_MS + 3_600_000)
    repoll["history"].append({"modifiedOn": p.T0_MS + 5, "status": "open", "reason": "X"})
    repoll["resource"]["data"]["creationDate"] = "2023-11-02"
    assert normalise(p.raw("cspm_api", repoll)).content_hash == base.content_hash
    for changed in (p.cspm_alert(status="resolved"), p.cspm_alert(severity="low"),
                    p.cspm_alert(policy_id="other"), p.cspm_alert(resource_id="other-bucket")):
        assert normalise(p.raw("cspm_api", changed)).content_hash != base.content_hash


def test_last_seen_takes_the_latest_of_lastseen_lastupdated_alerttime() -> None:
    payload = p.cspm_alert()
    payload["lastUpdated"] = p.T0_MS + 60_000
    assert normalise(p.raw("cspm_api", payload)).last_seen == datetime.fromtimestamp((p.T0_MS + 60_000) / 1000, tz=UTC)


def test_volume_finding_moves_onto_its_instance() -> None:
    payload = p.cspm_alert(resource_id="vol-0123456789abcdef0", resource_type="VOLUME", rrn_type="volume",
                           data={"volumeId": "vol-0123456789abcdef0", "attachments": [{"instanceId": p.INSTANCE}]})
    alert = normalise(p.raw("cspm_api", payload))
    assert alert.resource.asset_id == INSTANCE_ASSET
    assert alert.resource.resource_id == "vol-0123456789abcdef0"


# --- CSPM webhook -------------------------------------------------------------------------------

def test_webhook_and_api_views_of_one_alert_agree() -> None:
    api = normalise(p.raw("cspm_api", p.cspm_alert()))
    hook = normalise(p.raw("cspm_webhook", [p.cspm_webhook_item()]))
    assert hook.source is AlertSource.CSPM_WEBHOOK
    for field in ("alert_id", "policy_id", "severity", "status", "module", "content_hash"):
        assert getattr(hook, field) == getattr(api, field), field
    assert hook.resource.asset_id == api.resource.asset_id
    assert hook.resource.resource_type == "STORAGE_BUCKET"
    assert hook.resource.tags["env"] == "prod"


def test_webhook_accepts_a_bare_object_and_rejects_batches() -> None:
    assert normalise(p.raw("cspm_webhook", p.cspm_webhook_item())).alert_id == "P-2741093"
    with pytest.raises(InvalidRecordError, match="array of 2"):
        normalise(p.raw("cspm_webhook", [p.cspm_webhook_item(), p.cspm_webhook_item()]))


def test_webhook_resolution_notification() -> None:
    alert = normalise(p.raw("cspm_webhook", [p.cspm_webhook_item(alertStatus="resolved", reason="RESOURCE_UPDATED")]))
    assert alert.status is AlertStatus.RESOLVED
    assert alert.status_reason == "RESOURCE_UPDATED"


# --- Compute API --------------------------------------------------------------------------------

def test_host_scan_joins_the_cspm_instance() -> None:
    cspm = normalise(p.raw("cspm_api", p.cspm_instance_alert()))
    host = normalise(p.raw("compute_api", p.compute_api("host_scan", p.compute_host_scan())))
    assert cspm.resource.asset_id == host.resource.asset_id == INSTANCE_ASSET
    assert host.module is Module.CWPP
    assert host.alert_id == f"cwpp:host-vulns:{p.ACCOUNT}:{p.HOSTNAME}"  # host names repeat across accounts
    assert host.severity is Severity.CRITICAL
    assert host.policy_type == "workload_vulnerability"
    assert {v.cve for v in host.vulnerabilities} == {p.CURL_CVE, p.KEV_CVE}
    curl = next(v for v in host.vulnerabilities if v.cve == p.CURL_CVE)
    assert (curl.package, curl.installed_version, curl.fixed_version, curl.cvss) == (
        "curl", "7.88.1-10+deb12u1", "7.88.1-10+deb12u4", 9.8)
    assert host.resource.tags == {"env": "prod", "team": "payments"}


def test_private_ip_hosts_of_two_accounts_are_two_findings_on_two_assets() -> None:
    one = p.compute_host_scan(instance="", hostname="ip-10-0-1-5.ec2.internal")
    other = p.compute_host_scan(instance="", hostname="ip-10-0-1-5.ec2.internal")
    other["cloudMetadata"]["accountID"] = "210987654321"
    a = normalise(p.raw("compute_api", p.compute_api("host_scan", one)))
    b = normalise(p.raw("compute_api", p.compute_api("host_scan", other)))
    assert a.alert_id != b.alert_id and a.resource.asset_id != b.resource.asset_id
    assert a.alert_id == f"cwpp:host-vulns:{p.ACCOUNT}:ip-10-0-1-5.ec2.internal"


def test_a_host_vulnerability_webhook_without_account_keeps_the_bare_host_name() -> None:
    body = p.compute_webhook_host_vulns("devbox")
    alert = normalise(p.raw("compute_webhook", body))
    assert alert.alert_id == "cwpp:host-vulns:devbox"
    assert compute_webhook_alert_id(body) == alert.alert_id


def test_vulnerability_order_does_not_change_the_hash_but_a_new_cve_does() -> None:
    rec = p.compute_host_scan()
    a = normalise(p.raw("compute_api", p.compute_api("host_scan", rec)))
    rec["vulnerabilities"].reverse()
    rec["scanTime"] = "2024-06-11T09:05:00Z"
    b = normalise(p.raw("compute_api", p.compute_api("host_scan", rec)))
    rec["vulnerabilities"].append(p.compute_vuln(p.GLIBC_CVE, "low", 3.0, "glibc"))
    c = normalise(p.raw("compute_api", p.compute_api("host_scan", rec)))
    assert a.content_hash == b.content_hash != c.content_hash


def test_clean_host_scan_resolves_the_finding() -> None:
    alert = normalise(p.raw("compute_api", p.compute_api("host_scan", p.compute_host_scan(vulns=[]))))
    assert alert.status is AlertStatus.RESOLVED
    assert alert.status_reason == "NO_VULNERABILITIES"


def test_image_scan_is_its_own_asset_and_keeps_reachability() -> None:
    alert, data = normalise_with_data(p.raw("compute_api", p.compute_api("image_scan", p.compute_image_scan())))
    assert alert.resource.asset_id == f"other::global:image/{p.IMAGE_ID}"
    assert alert.resource.name == "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop/checkout:1.14.2"
    assert data is not None and "Reachable from the internet" in data["riskFactors"]


def test_incident_and_audit() -> None:
    inc = normalise(p.raw("compute_api", p.compute_api("incident", p.compute_incident())))
    assert inc.alert_id == "cwpp:incident:6666da02f0c2a14e7b3c9d55"
    assert inc.policy_id == "compute:incident:hijackedProcess"
    assert inc.severity is Severity.HIGH
    assert inc.resource.asset_id == INSTANCE_ASSET
    acked = normalise(p.raw("compute_api", p.compute_api("incident", p.compute_incident(acknowledged=True))))
    assert acked.status is AlertStatus.RESOLVED
    audit = normalise(p.raw("compute_api", p.compute_api("runtime_audit", p.compute_audit())))
    assert audit.alert_id == "cwpp:audit:6666d9b1f0c2a14e7b3c9d10"
    assert audit.resource.asset_id == f"aws:{p.ACCOUNT}:us-east-1:host/{p.HOSTNAME}"
    with_id = normalise(p.raw("compute_api", p.compute_api("runtime_audit", p.compute_audit(resourceID=p.INSTANCE))))
    assert with_id.resource.asset_id == INSTANCE_ASSET


def test_compute_alert_id_matches_normalised_id() -> None:
    rec = p.compute_host_scan()
    assert compute_alert_id("host_scan", rec) == normalise(p.raw("compute_api", p.compute_api("host_scan", rec))).alert_id


@pytest.mark.parametrize(
    ("payload", "message"),
    [({"kind": "registry_scan", "record": {}}, "kind 'registry_scan' unknown"),
     ({"record": {}}, "kind missing"), ({"kind": "incident"}, "record missing"),
     ({"kind": "incident", "record": {"_id": "x", "hostname": "h"}}, "record.category missing"),
     ({"kind": "runtime_audit", "record": {"_id": "x"}}, "hostname and record.resourceID both missing"),
     ([], "must be a JSON object")],
)
def test_compute_api_errors(payload: Any, message: str) -> None:
    with pytest.raises(InvalidRecordError, match=message):
        normalise(p.raw("compute_api", payload))


# --- Compute webhook ----------------------------------------------------------------------------

def test_webhook_vulnerabilities_share_the_api_alert_id() -> None:
    hook = normalise(p.raw("compute_webhook", p.compute_webhook_vulns()))
    api = normalise(p.raw("compute_api", p.compute_api("image_scan", p.compute_image_scan())))
    assert hook.alert_id == api.alert_id
    assert hook.resource.asset_id == api.resource.asset_id
    assert hook.severity is Severity.CRITICAL
    assert [v.cve for v in hook.vulnerabilities] == [p.CURL_CVE, p.GLIBC_CVE]


def test_webhook_runtime_event() -> None:
    alert = normalise(p.raw("compute_webhook", p.compute_webhook_runtime()))
    assert alert.alert_id.startswith("cwpp:webhook:")
    assert alert.first_seen == datetime(2024, 6, 10, 14, 3, 11, tzinfo=UTC)
    assert alert.severity is Severity.HIGH
    assert alert.resource.asset_id == f"aws:{p.ACCOUNT}:us-east-1:host/{p.HOSTNAME}"
    again = normalise(p.raw("compute_webhook", p.compute_webhook_runtime()))
    assert again.alert_id == alert.alert_id


def test_split_compute_webhook() -> None:
    body = p.compute_webhook_vulns(p.webhook_image_entry("sha256:aa"), p.webhook_image_entry("sha256:bb"))
    with pytest.raises(InvalidRecordError, match="split it"):
        normalise(p.raw("compute_webhook", body))
    parts = split_compute_webhook(body)
    ids = [normalise(p.raw("compute_webhook", part)).alert_id for part in parts]
    assert ids == ["cwpp:image-vulns:sha256:aa", "cwpp:image-vulns:sha256:bb"]


# --- errors -------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["", "{", "nan", "[1,", "\x00", '{"id": "P-1"'])
@pytest.mark.parametrize("source", list(AlertSource))
def test_malformed_json_is_invalid_record(source: AlertSource, text: str) -> None:
    with pytest.raises(InvalidRecordError, match="not valid JSON|must be a JSON object|missing"):
        normalise(p.raw(source, text))


@pytest.mark.parametrize("value", [None, "", "0001-01-01T00:00:00Z", "1970-01-01T00:00:00.000Z", 0, "0", "N/A",
                                   "January 01, 1970 00:00:00 AM"])
def test_placeholder_times_are_no_date(value: Any) -> None:
    from processors.normalise._fields import to_datetime

    assert to_datetime(value, "t") is None


def test_real_times_in_every_payload_form_are_read() -> None:
    from processors.normalise._fields import to_datetime

    expected = datetime(2024, 6, 10, 14, 3, 11, tzinfo=UTC)
    for value in (1718028191000, 1718028191, "2024-06-10T14:03:11Z", "Jun 10, 2024 14:03:11 UTC"):
        assert to_datetime(value, "t") == expected, value


def test_bad_timestamp_is_named() -> None:
    payload = p.cspm_alert()
    payload["firstSeen"] = "yesterday"
    with pytest.raises(InvalidRecordError, match="firstSeen is not a timestamp"):
        normalise(p.raw("cspm_api", payload))


# --- properties ---------------------------------------------------------------------------------

_ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=20)
_accounts = st.from_regex(r"\A[0-9]{12}\Z")
_regions = st.sampled_from(["us-east-1", "eu-west-3", "ap-southeast-2", "us-west-2"])
_instances = st.from_regex(r"\Ai-[0-9a-f]{17}\Z")
_tags = st.dictionaries(st.sampled_from(["env", "owner", "team", "app", "Name"]), _ids, max_size=4)


@st.composite
def cspm_payloads(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from([("STORAGE_BUCKET", "storageBucket", _ids), ("INSTANCE", "instance", _instances),
                                 ("SECURITY_GROUP", "securityGroup", st.from_regex(r"\Asg-[0-9a-f]{17}\Z"))]))
    payload = p.cspm_alert(
        alert_id=f"P-{draw(st.integers(1, 10**9))}",
        status=draw(st.sampled_from(["open", "resolved", "dismissed", "snoozed", "pending_resolution"])),
        severity=draw(st.sampled_from(["critical", "high", "medium", "low", "informational"])),
        policy_type=draw(st.sampled_from(["config", "network", "audit_event", "anomaly", "data", "iam",
                                          "workload_vulnerability", "workload_incident"])),
        resource_id=draw(kind[2]), resource_type=kind[0], rrn_type=kind[1], region=draw(_regions),
        account=draw(_accounts), tags=draw(_tags), last_seen=draw(st.integers(p.T0_MS, p.T0_MS + 10**10)),
        cloud=draw(st.sampled_from(["aws", "azure", "gcp", "oci", "alibaba_cloud"])),
    )
    for optional in draw(st.sets(st.sampled_from(["history", "reason", "alertTime", "lastUpdated", "firstSeen"]))):
        payload.pop(optional, None)
    if draw(st.booleans()):
        payload["resource"].pop("data")
    return payload


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(cspm_payloads(), st.booleans())
def test_any_valid_cspm_payload_normalises_deterministically(payload: dict[str, Any], as_webhook: bool) -> None:
    raw = p.raw("cspm_api", payload)
    first, second = normalise(raw), normalise(raw)
    assert isinstance(first, Alert)
    assert first == second
    assert first.alert_id == payload["id"]
    assert first.resource.asset_id.startswith(payload["resource"]["cloudType"] + ":")


@st.composite
def compute_records(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    kind = draw(st.sampled_from(["incident", "runtime_audit", "host_scan", "image_scan"]))
    inst, acct, region = draw(_instances), draw(_accounts), draw(_regions)
    if kind == "host_scan":
        vulns = [p.compute_vuln(f"CVE-20{draw(st.integers(10, 24))}-{n:05d}", draw(st.sampled_from(
            ["critical", "high", "medium", "low", "important", "moderate", "", "negligible"])), draw(st.floats(0, 10)))
            for n in range(draw(st.integers(0, 5)))]
        rec = p.compute_host_scan(vulns, instance=inst, hostname=draw(_ids))
        rec["cloudMetadata"].update(accountID=acct, region=region)
    elif kind == "image_scan":
        rec = p.compute_image_scan()
        rec["_id"] = rec["id"] = "sha256:" + draw(st.from_regex(r"\A[0-9a-f]{64}\Z"))
    elif kind == "incident":
        rec = p.compute_incident(_id=draw(_ids), resourceID=inst, accountID=acct, region=region,
                                 acknowledged=draw(st.booleans()), category=draw(_ids))
    else:
        rec = p.compute_audit(_id=draw(_ids), accountID=acct, region=region,
                              severity=draw(st.sampled_from(["low", "medium", "high"])))
    return kind, rec


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(compute_records())
def test_any_valid_compute_record_normalises(kind_rec: tuple[str, dict[str, Any]]) -> None:
    kind, rec = kind_rec
    raw = p.raw("compute_api", p.compute_api(kind, rec))
    alert = normalise(raw)
    assert alert.module is Module.CWPP
    assert alert.alert_id == compute_alert_id(kind, rec)
    assert normalise(raw) == alert


@settings(max_examples=100)
@given(_accounts, _regions, _instances)
def test_instance_seen_by_cspm_and_compute_has_one_asset_id(account: str, region: str, instance: str) -> None:
    cspm = normalise(p.raw("cspm_api", p.cspm_instance_alert(account=account, region=region, resource_id=instance)))
    rec = p.compute_host_scan(instance=instance)
    rec["cloudMetadata"].update(accountID=account, region=region)
    host = normalise(p.raw("compute_api", p.compute_api("host_scan", rec)))
    inc = normalise(p.raw("compute_api", p.compute_api("incident", p.compute_incident(
        accountID=account, region=region, resourceID=instance))))
    assert cspm.resource.asset_id == host.resource.asset_id == inc.resource.asset_id
    assert cspm.resource.asset_id == f"aws:{account}:{region}:instance/{instance}"


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


def _normalise_or_invalid(source: AlertSource, text: str) -> None:
    try:
        result = normalise(p.raw(source, text))
    except InvalidRecordError as exc:
        assert exc.reason and exc.stage == "normalise"
    else:
        assert isinstance(result, Alert)


@settings(max_examples=200)
@given(st.sampled_from(list(AlertSource)), st.one_of(st.text(max_size=50), _json.map(json.dumps)))
def test_garbage_raises_invalid_record_only(source: AlertSource, text: str) -> None:
    _normalise_or_invalid(source, text)


_PATHS: dict[AlertSource, list[tuple[str, ...]]] = {
    AlertSource.CSPM_API: [("id",), ("status",), ("firstSeen",), ("lastSeen",), ("policy",), ("policy", "severity"),
                           ("policy", "policyType"), ("policy", "complianceMetadata"), ("resource",), ("resource", "id"),
                           ("resource", "resourceTags"), ("resource", "data"), ("history",), ("resource", "cloudType")],
    AlertSource.COMPUTE_API: [("kind",), ("record",), ("record", "vulnerabilities"), ("record", "cloudMetadata"),
                              ("record", "scanTime"), ("record", "hostname"), ("record", "labels"), ("record", "_id")],
}


@settings(max_examples=300)
@given(st.sampled_from(list(_PATHS)), st.data(), _json)
def test_corrupting_any_field_raises_invalid_record_only(source: AlertSource, data: st.DataObject, value: Any) -> None:
    payload: Any = p.cspm_alert() if source is AlertSource.CSPM_API else p.compute_api("host_scan", p.compute_host_scan())
    path = data.draw(st.sampled_from(_PATHS[source]))
    target = payload
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    _normalise_or_invalid(source, json.dumps(payload))
