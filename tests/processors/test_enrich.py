"""Specification of enrichment (processors/enrich): owners, exposure, cache, enrich()."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from connectors.feeds.store import load_default_feeds
from processors.enrich import CachedResourceLookup, EnrichmentContext, TTLCache, enrich, internet_exposure
from processors.enrich.owners import OwnerMap, OwnerMapFile
from processors.errors import ConfigurationError, ExternalServiceError
from processors.models import Alert, Criticality, Environment, ResourceRef
from processors.normalise import normalise, normalise_with_data
from streams.static_inputs import EXAMPLE_OWNER_MAP_PATH, load_owner_map
from tests.processors import payloads as p

OWNERS = EXAMPLE_OWNER_MAP_PATH


@pytest.fixture(scope="module")
def context() -> EnrichmentContext:
    return EnrichmentContext(feeds=load_default_feeds(), owners=load_owner_map(OWNERS))


def _res(**kw: Any) -> ResourceRef:
    base: dict[str, Any] = dict(asset_id="a", resource_id="r", account_id="123456789012")
    base.update(kw)
    return ResourceRef(**base)


# --- owner map ----------------------------------------------------------------------------------

def test_example_owner_map_precedence() -> None:
    owners = load_owner_map(OWNERS)
    got = owners.resolve(_res(name="acme-public-assets", resource_type="STORAGE_BUCKET", tags={"Env": "production"}))
    assert got.environment is Environment.PROD and got.sources["environment"] == "tag:env"
    assert got.data_sensitivity == "public" and got.sources["data_sensitivity"] == "rule:public-assets-buckets"
    assert got.team == "platform" and got.sources["team"] == "account:123456789012"
    assert got.criticality is Criticality.HIGH


def test_tags_beat_rules_and_accounts_but_not_forced_rules() -> None:
    owners = load_owner_map(OWNERS)
    tagged = owners.resolve(_res(tags={"team": "web", "criticality": "tier-0", "data-classification": "PII"}))
    assert (tagged.team, tagged.criticality, tagged.data_sensitivity) == ("web", Criticality.CRITICAL, "restricted")
    forced = owners.resolve(_res(account_id="345678901234", tags={"env": "dev", "team": "web"}))
    assert forced.environment is Environment.PROD and forced.team == "security"


def test_unmapped_asset_gets_defaults() -> None:
    got = load_owner_map(OWNERS).resolve(_res(account_id="999"))
    assert (got.owner, got.team, got.criticality, got.environment, got.data_sensitivity) == (
        "", "", Criticality.MEDIUM, Environment.UNKNOWN, "unknown")
    assert OwnerMap().resolve(_res()).criticality is Criticality.UNKNOWN


def test_unknown_values_in_tags_are_ignored() -> None:
    got = OwnerMap().resolve(_res(tags={"env": "blue", "criticality": "very"}))
    assert got.environment is Environment.UNKNOWN and got.criticality is Criticality.UNKNOWN


@pytest.mark.parametrize("text", ["version: 1\nteams: {}\n", "accounts: {'1': {criticality: extreme}}\n",
                                  "rules: [{name: x}]\n", "version: 2\n", "rules: [\n"])
def test_bad_owner_map_is_rejected(tmp_path: Path, text: str) -> None:
    (tmp_path / "o.yaml").write_text(text)
    with pytest.raises(ConfigurationError, match="owner map"):
        load_owner_map(tmp_path / "o.yaml")


def test_owner_map_file_model_matches_example() -> None:
    import yaml

    spec = OwnerMapFile.model_validate(yaml.safe_load(OWNERS.read_text()))
    assert {r.name for r in spec.rules} == {"payments", "public-assets-buckets", "security-tooling-is-prod"}


# --- exposure -----------------------------------------------------------------------------------

def _alert(**kw: Any) -> Alert:
    return normalise(p.raw("cspm_api", p.cspm_alert(**kw)))


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (p.security_group_data("0.0.0.0/0", 22), "0.0.0.0/0 on port 22"),
        ({"ipPermissions": [{"fromPort": -1, "ipv6Ranges": [{"cidrIpv6": "::/0"}]}]}, "::/0 on all ports"),
        (p.security_group_data("10.0.0.0/8", 22), ""),
        ({"acl": {"grants": [{"grantee": {"uri": "http://acs.amazonaws.com/groups/global/AllUsers"}, "permission": "READ"}]}}, "AllUsers"),
        ({"policyStatus": {"isPublic": False}}, ""),
        ({"iam": {"bindings": [{"role": "roles/storage.objectViewer", "members": ["allUsers"]}]}}, "allUsers"),
        ({"publicIpAddress": "35.180.1.1"}, "public IP 35.180.1.1"),
        ({"networkInterfaces": [{"accessConfigs": [{"natIP": "34.1.2.3"}]}]}, "external IP"),
        ({"securityRules": [{"properties": {"access": "Allow", "direction": "Inbound", "sourceAddressPrefix": "Internet",
                                            "destinationPortRange": "3389"}}]}, "Internet"),
        ({"direction": "INGRESS", "allowed": [{"IPProtocol": "tcp"}], "sourceRanges": ["0.0.0.0/0"]}, "firewall"),
        ({"riskFactors": ["Reachable from the internet"]}, "reachable"),
        ({"unexpected": [1, {"x": None}], "ipPermissions": "garbage", "acl": [1]}, ""),
    ],
)
def test_exposure_from_resource_data(data: Mapping[str, Any], expected: str) -> None:
    alert = _alert(policy_name="AWS EC2 instance without detailed monitoring", data=dict(data))
    reason = internet_exposure(alert, data)
    assert (expected in reason) if expected else reason == ""


def test_exposure_from_policy_only_while_open() -> None:
    name = "AWS Security Group allows all traffic from internet on port 22"
    assert internet_exposure(_alert(policy_type="network", policy_name=name, data={}), None)
    assert not internet_exposure(_alert(policy_type="network", policy_name=name, status="resolved", data={}), None)
    assert not internet_exposure(_alert(policy_type="iam", policy_name=name, data={}), None)


# --- cache --------------------------------------------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_ttl_cache_expires_and_evicts_least_recently_used() -> None:
    clock = Clock()
    cache: TTLCache[str, int] = TTLCache(2, 10.0, clock=clock)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == (True, 1)
    cache.put("c", 3)  # evicts b, the least recently used
    assert cache.get("b") == (False, None) and len(cache) == 2
    clock.t = 10.0
    assert cache.get("a") == (False, None)
    with pytest.raises(ValueError):
        TTLCache(0, 1.0, clock=clock)


def test_cached_lookup_caches_hits_and_misses_but_not_errors() -> None:
    clock = Clock()
    calls: list[str] = []

    def lookup(resource_id: str) -> Mapping[str, Any] | None:
        calls.append(resource_id)
        if resource_id == "boom":
            raise ExternalServiceError("503")
        return {"id": resource_id} if resource_id != "gone" else None

    cached = CachedResourceLookup(lookup, ttl_s=100, negative_ttl_s=5, clock=clock)
    assert cached("x") == {"id": "x"} and cached("x") == {"id": "x"}
    assert cached("gone") is None and cached("gone") is None
    assert calls == ["x", "gone"]
    clock.t = 6
    cached("gone")
    cached("x")
    assert calls == ["x", "gone", "gone"]
    for _ in range(2):
        with pytest.raises(ExternalServiceError):
            cached("boom")
    assert calls.count("boom") == 2


# --- enrich -------------------------------------------------------------------------------------

def test_enrich_host_scan_sets_epss_kev_and_owner(context: EnrichmentContext) -> None:
    alert = enrich(normalise(p.raw("compute_api", p.compute_api("host_scan", p.compute_host_scan()))), context)
    kev = next(v for v in alert.vulnerabilities if v.cve == p.KEV_CVE)
    curl = next(v for v in alert.vulnerabilities if v.cve == p.CURL_CVE)
    assert kev.in_kev and kev.epss == context.feeds.epss[p.KEV_CVE].epss
    assert not curl.in_kev and curl.epss == context.feeds.epss[p.CURL_CVE].epss
    e = alert.enrichment
    assert e.in_kev and e.exploitability == 1.0
    assert e.environment is Environment.PROD and e.team == "payments"
    assert e.feeds_as_of == "kev:2026.08.21 epss:2026-01-30"
    assert not e.internet_exposed


def test_enrich_exploitability_is_max_epss_without_kev(context: EnrichmentContext) -> None:
    alert = enrich(normalise(p.raw("compute_api", p.compute_api("image_scan", p.compute_image_scan()))), context)
    assert alert.enrichment.exploitability == context.feeds.epss[p.CURL_CVE].epss
    assert alert.enrichment.internet_exposed and not alert.enrichment.in_kev


def test_enrich_uses_payload_data_without_a_lookup(context: EnrichmentContext) -> None:
    alert = enrich(normalise(p.raw("cspm_api", p.cspm_alert())), context)
    assert alert.enrichment.internet_exposed
    assert alert.enrichment.data_sensitivity == "public"
    assert json.loads(alert.enrichment.resource_config_json)["bucketName"] == "acme-public-assets"


def test_fused_path_gives_the_same_alert(context: EnrichmentContext) -> None:
    raw = p.raw("cspm_api", p.cspm_alert())
    alert, data = normalise_with_data(raw)
    assert enrich(alert, context, data) == enrich(normalise(raw), context)


def test_enrich_calls_the_lookup_when_the_payload_has_no_data(context: EnrichmentContext) -> None:
    payload = p.cspm_instance_alert()
    del payload["resource"]["data"]
    seen: list[str] = []

    def lookup(resource_id: str) -> Mapping[str, Any] | None:
        seen.append(resource_id)
        return {"publicIpAddress": "35.180.1.1"}

    ctx = EnrichmentContext(feeds=context.feeds, owners=context.owners, resource_lookup=lookup)
    alert = enrich(normalise(p.raw("cspm_api", payload)), ctx)
    assert seen == [p.INSTANCE]
    assert alert.enrichment.internet_exposed
    assert json.loads(alert.enrichment.resource_config_json) == {"publicIpAddress": "35.180.1.1"}


def test_lookup_failure_degrades_gracefully(context: EnrichmentContext, caplog: pytest.LogCaptureFixture) -> None:
    def lookup(resource_id: str) -> Mapping[str, Any] | None:
        raise ExternalServiceError("prisma down")

    payload = p.cspm_alert(policy_name="AWS S3 bucket encryption disabled")
    del payload["resource"]["data"]
    ctx = EnrichmentContext(feeds=context.feeds, owners=context.owners, resource_lookup=lookup)
    alert = enrich(normalise(p.raw("cspm_api", payload)), ctx)
    assert not alert.enrichment.internet_exposed and alert.enrichment.resource_config_json == ""
    assert "resource lookup failed" in caplog.text


def test_compute_only_assets_are_not_looked_up(context: EnrichmentContext) -> None:
    def lookup(resource_id: str) -> Mapping[str, Any] | None:
        raise AssertionError("must not be called")

    ctx = EnrichmentContext(feeds=context.feeds, owners=context.owners, resource_lookup=lookup)
    enrich(normalise(p.raw("compute_api", p.compute_api("runtime_audit", p.compute_audit()))), ctx)
    enrich(normalise(p.raw("compute_webhook", p.compute_webhook_vulns())), ctx)
