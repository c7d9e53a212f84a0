"""Real Prisma Cloud payloads normalise to what Prisma's semantics say they mean.

Every sample of ``tests/data/real`` (published payloads, and samples constructed from the
documented formats where none is published: SOURCES.md says which) goes through the real entry
point of the core stage, :func:`processors.pipeline.normalise_and_enrich`, and each normalised
value is compared with ``expectations.yaml``. The regression tests below pin the defects that
real payloads exposed, each on the real sample that shows it where one exists.
"""

from __future__ import annotations

import copy
import re
from datetime import datetime
from typing import Any

import pytest

from processors.enrich import EnrichmentContext
from processors.errors import InvalidRecordError
from processors.models import Alert, AlertStatus, Cloud, Severity
from processors.normalise import canonical_asset_id, normalise
from processors.normalise.compute_webhook import compute_webhook_items, compute_webhook_problem
from processors.pipeline import normalise_and_enrich
from tests.processors.real_corpus import (
    CORPUS,
    Sample,
    corpus_files,
    raw_alert,
    raw_alerts,
    received_at,
    sample,
    samples,
)

CONTEXT = EnrichmentContext()
NORMALISED = [s for s in samples() if s.alerts]
REJECTED = [s for s in samples() if s.dead_letter]


def _when(value: str) -> datetime:
    return received_at() if value == "received" else datetime.fromisoformat(value)


def _check(alert: Alert, expected: dict[str, Any]) -> None:
    """Compare every expected field with the normalised alert (a failure names the field)."""
    simple = {
        "alert_id": alert.alert_id, "module": alert.module.value, "policy_id": alert.policy_id,
        "policy_name": alert.policy_name, "policy_type": alert.policy_type, "severity": alert.severity.value,
        "status": alert.status.value, "status_reason": alert.status_reason, "cloud": alert.resource.cloud.value,
        "account": alert.resource.account_id, "region": alert.resource.region,
        "resource_id": alert.resource.resource_id, "resource_type": alert.resource.resource_type,
        "asset_id": alert.resource.asset_id, "tags": alert.resource.tags,
    }
    for key, value in expected.items():
        if key in simple:
            assert simple[key] == value, key
        elif key == "alert_id_prefix":
            assert alert.alert_id.startswith(value) and len(alert.alert_id) > len(value)
        elif key in ("first_seen", "last_seen"):
            assert getattr(alert, key) == _when(value), key
        elif key == "cves":
            assert [v.cve for v in alert.vulnerabilities] == value
        elif key == "fixed_versions":
            assert {v.cve: v.fixed_version for v in alert.vulnerabilities} == value
        elif key == "description_contains":
            for text in value:
                assert text in alert.description, text
        elif key == "default_severity":
            assert ("severity not stated by Prisma Cloud" in alert.description) is value
        elif key == "compliance_standards":
            assert [c.standard for c in alert.compliance] == value
        else:  # pragma: no cover - a typo in expectations.yaml must not pass silently
            raise AssertionError(f"unknown expectation {key!r}")


def test_the_corpus_holds_at_least_40_samples_and_every_file_is_specified() -> None:
    names = [s.name for s in samples()]
    assert len(names) >= 40
    assert sorted(names) == corpus_files()


def test_every_sample_is_attributed_in_sources_md() -> None:
    sources = (CORPUS / "SOURCES.md").read_text(encoding="utf-8")
    for item in samples():
        assert item.name in sources, f"{item.name} is not listed in SOURCES.md"


@pytest.mark.parametrize("item", NORMALISED, ids=lambda s: s.name)
def test_sample_normalises_to_its_expected_values(item: Sample) -> None:
    raws = raw_alerts(item)
    assert len(raws) == len(item.alerts)
    for raw, expected in zip(raws, item.alerts, strict=True):
        alert = normalise_and_enrich(raw, CONTEXT)
        _check(alert, expected)
        assert normalise(raw).content_hash == alert.content_hash  # the stage and the source agree
        assert alert.ingested_at == received_at()
        assert alert.first_seen <= alert.last_seen


@pytest.mark.parametrize("item", REJECTED, ids=lambda s: s.name)
def test_rejected_sample_names_its_reason(item: Sample) -> None:
    (raw,) = raw_alerts(item)
    with pytest.raises(InvalidRecordError, match=re.escape(item.dead_letter)) as info:
        normalise_and_enrich(raw, CONTEXT)
    assert info.value.stage == "normalise"


# --- regressions found with real payloads ----------------------------------------------------

@pytest.mark.parametrize("name", ["xsoar-prismacloudcompute/image_scan_some_id.json",
                                  "xsoar-prismacloudcompute/host_scan_some_hostname1.json"])
def test_a_scan_with_a_null_cve_list_but_counts_stays_open(name: str) -> None:
    (raw,) = raw_alerts(sample(name))
    alert = normalise(raw)
    assert alert.status is AlertStatus.OPEN and alert.status_reason != "NO_VULNERABILITIES"
    assert alert.severity is Severity.CRITICAL  # the distribution counts critical CVEs
    assert alert.vulnerabilities == []


def test_a_scan_resolves_only_when_it_counts_zero() -> None:
    record = copy.deepcopy(sample("xsoar-prismacloudcompute/image_scan_some_id.json").payload)
    open_alert = normalise(raw_alert(raw_alerts(sample("xsoar-prismacloudcompute/image_scan_some_id.json"))[0].source,
                                     {"kind": "image_scan", "record": record}))
    record["vulnerabilitiesCount"] = 0
    record["vulnerabilityDistribution"] = {"critical": 0, "high": 0, "medium": 0, "low": 0, "total": 0}
    clean = normalise(raw_alert(open_alert.source, {"kind": "image_scan", "record": record}))
    assert (open_alert.status, clean.status) == (AlertStatus.OPEN, AlertStatus.RESOLVED)
    assert clean.alert_id == open_alert.alert_id and clean.status_reason == "NO_VULNERABILITIES"


def test_a_scan_without_list_or_counts_is_rejected_rather_than_read_as_clean() -> None:
    item = sample("xsoar-prismacloudcompute/host_scan_some_hostname1.json")
    record = copy.deepcopy(item.payload)
    for key in ("vulnerabilities", "vulnerabilitiesCount", "vulnerabilityDistribution"):
        del record[key]
    with pytest.raises(InvalidRecordError, match="cannot tell whether host some_hostname1 is clean"):
        normalise(raw_alert(item.source, {"kind": "host_scan", "record": record}))


def test_a_container_scan_lands_on_the_instance_its_host_scan_and_cspm_alerts_use() -> None:
    # Real agentless /containers record: its cloudMetadata is the host VM's (an m5.xlarge, i-3).
    container = sample("xsoar-prismacloudcompute/container_scan_a2_agentless.json").payload
    meta = container["info"]["cloudMetadata"]
    host_record = copy.deepcopy(sample("xsoar-prismacloudcompute/host_scan_some_hostname1.json").payload)
    host_record.update(hostname=container["hostname"], cloudMetadata=meta)
    source = raw_alerts(sample("xsoar-prismacloudcompute/container_scan_a2_agentless.json"))[0].source
    on_container = normalise(raw_alert(source, {"kind": "container_scan", "record": container}))
    on_host = normalise(raw_alert(source, {"kind": "host_scan", "record": host_record}))
    cspm_instance = canonical_asset_id(Cloud.AWS, meta["accountID"], meta["region"], meta["resourceID"], "INSTANCE")
    assert on_container.resource.asset_id == on_host.resource.asset_id == cspm_instance
    assert on_container.resource.resource_id == container["info"]["id"]  # the finding is still the container's


@pytest.mark.parametrize(("name", "status", "newest_history_status"), [
    ("chronicle-content-hub/prisma_verify_alert_I-226467.json", AlertStatus.OPEN, "dismissed"),
    ("chronicle-content-hub/prisma_alerts_connector_P-356.json", AlertStatus.RESOLVED, "open"),
])
def test_the_top_level_status_wins_over_a_lagging_history(
        name: str, status: AlertStatus, newest_history_status: str) -> None:
    item = sample(name)
    newest = max(item.payload["history"], key=lambda h: h["modifiedOn"])
    assert newest["status"] == newest_history_status  # the real payload's history lags its status
    assert normalise(raw_alerts(item)[0]).status is status


def test_go_zero_time_is_no_date() -> None:
    item = sample("xsoar-prismacloudcompute/hosts_info_a9.json")
    assert item.payload["firstScanTime"] == item.payload["scanTime"] == "0001-01-01T00:00:00Z"
    alert = normalise(raw_alerts(item)[0])
    assert alert.first_seen == alert.last_seen == received_at()


def test_a_vulnerability_alert_listing_cves_directly_is_one_alert_not_one_per_cve() -> None:
    body = copy.deepcopy(sample("xsoar-prismacloudcompute/xsoar_alert_vulnerability_cve_list.json").payload)
    template = body["vulnerabilities"][0]
    body["vulnerabilities"] = [dict(template, cve=f"CVE-2024-000{n}", severity="high") for n in range(1, 6)]
    items = compute_webhook_items(body)
    assert len(items) == 1 and compute_webhook_problem(items[0]) is None
    alert = normalise(raw_alert(raw_alerts(sample("constructed/compute_webhook_incident.json"))[0].source, items[0]))
    assert alert.alert_id == "cwpp:image-vulns:testImage"
    assert [v.cve for v in alert.vulnerabilities] == [f"CVE-2024-000{n}" for n in range(1, 6)]
    assert alert.severity is Severity.HIGH


def test_an_incident_body_is_an_incident_not_a_runtime_event() -> None:
    (raw,) = raw_alerts(sample("constructed/compute_webhook_incident.json"))
    alert = normalise(raw)
    assert alert.policy_type == "workload_incident" and alert.policy_id.startswith("compute:incident:")


def test_a_custom_template_keeps_its_details_text() -> None:
    item = sample("constructed/compute_webhook_custom_template_details.json")
    alert = normalise(raw_alerts(item)[0])
    assert item.payload["details"] in alert.description


def test_a_missing_severity_is_the_type_default_and_the_description_says_so() -> None:
    runtime = normalise(raw_alerts(sample("constructed/compute_webhook_host_runtime_no_severity.json"))[0])
    discovery = normalise(raw_alerts(sample("constructed/compute_webhook_cloud_discovery.json"))[0])
    waas = normalise(raw_alerts(sample("xsoar-prismacloudcompute/waas_container_audit_63bf6e2d.json"))[0])
    assert (runtime.severity, discovery.severity, waas.severity) == (Severity.MEDIUM, Severity.LOW, Severity.HIGH)
    for alert in (runtime, discovery, waas):
        assert "severity not stated by Prisma Cloud" in alert.description


def test_an_unsupported_type_is_one_dead_letter_that_names_the_type() -> None:
    body = sample("constructed/compute_webhook_unsupported_type.json").payload
    items = compute_webhook_items(body)
    assert len(items) == 1  # not split per listed entry
    assert compute_webhook_problem(items[0]) == "unsupported Compute alert type 'Code Repository Vulnerability'"


def test_every_compute_alert_profile_type_in_the_corpus_normalises() -> None:
    covered = {alert.policy_type for s in NORMALISED if s.source.value == "compute_webhook"
               for alert in (normalise(r) for r in raw_alerts(s))}
    assert covered == {"runtime", "waas", "network_firewall", "access", "kubernetes_audit", "health",
                       "workload_incident", "workload_compliance", "workload_vulnerability", "cloud_discovery"}
