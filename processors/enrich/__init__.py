"""Add context to a normalised alert: exploitability, ownership, exposure, resource configuration.

The enriched alert is also the first record without secrets: :func:`enrich` ends with the
redaction pass of :mod:`processors.redaction` over the alert's text, tags and resource
configuration, after exposure and ownership were read from the original values.

:func:`enrich` is called once per alert by the stateless stage, right after normalise (fused in
:func:`processors.pipeline.normalise_and_enrich`). Everything static it needs sits in an
:class:`EnrichmentContext` built once at start-up by the stream layer (feeds and owner YAML read
and parsed). The only
outside call is the optional resource-config lookup; when it fails the alert is enriched without
it (a missing config must not stop a security alert), and the failure is logged.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from processors.enrich.cache import CachedResourceLookup, ResourceLookup, TTLCache
from processors.enrich.exposure import Exposure, assess_exposure, internet_exposure
from processors.enrich.feeds import ExploitFeeds
from processors.enrich.owners import OwnerMap, ResolvedOwner, parse_owner_map
from processors.errors import PrismaflowError
from processors.models import Alert, Enrichment, Vulnerability
from processors.redaction import redact_alert

__all__ = [
    "CachedResourceLookup",
    "EnrichmentContext",
    "ExploitFeeds",
    "Exposure",
    "OwnerMap",
    "ResolvedOwner",
    "ResourceLookup",
    "TTLCache",
    "assess_exposure",
    "enrich",
    "internet_exposure",
    "parse_owner_map",
]

log = logging.getLogger(__name__)

# Resource kinds that have no Prisma /resource record (Compute-only names).
_NO_LOOKUP_KINDS = ("host", "image")


@dataclass(frozen=True, slots=True)
class EnrichmentContext:
    """The static inputs of enrichment, built once per worker and shared by every record."""

    feeds: ExploitFeeds = field(default_factory=ExploitFeeds)
    owners: OwnerMap = field(default_factory=OwnerMap)
    resource_lookup: ResourceLookup | None = None
    keep_resource_config: bool = True


def _config_from(alert: Alert, context: EnrichmentContext) -> tuple[Mapping[str, Any] | None, bool]:
    """Return (resource data, whether it came from the lookup)."""
    text = alert.enrichment.resource_config_json
    if text:
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, Mapping):
            return data, False
    if context.resource_lookup is None:
        return None, False
    kind = alert.resource.asset_id.split(":", 3)[-1].split("/", 1)[0]
    if kind in _NO_LOOKUP_KINDS:
        return None, False
    try:
        return context.resource_lookup(alert.resource.resource_id), True
    except PrismaflowError as exc:
        log.warning(
            "resource lookup failed stage=enrich alert_id=%s error=%s", alert.alert_id, type(exc).__name__
        )
        return None, False


def enrich(
    alert: Alert, context: EnrichmentContext, resource_data: Mapping[str, Any] | None = None
) -> Alert:
    """Return a copy of ``alert`` with :class:`Enrichment` filled and each CVE's EPSS/KEV set.

    ``resource_data`` is the payload's own resource data when the caller has it parsed already
    (the fused stage); otherwise the alert's ``resource_config_json`` is used, and failing that
    the context's lookup. ``exploitability`` is the highest EPSS of the alert's CVEs, 1.0 when
    any is in KEV.
    """
    from_lookup = False
    data = resource_data
    if data is None:
        data, from_lookup = _config_from(alert, context)
    feeds = context.feeds
    vulns = alert.vulnerabilities
    exploitability = 0.0
    any_kev = False
    if vulns:
        updated: list[Vulnerability] = []
        for v in vulns:
            score = feeds.epss.get(v.cve)
            kev = v.cve in feeds.kev
            epss = score.epss if score is not None else v.epss
            if kev:
                any_kev = True
            if epss is not None and epss > exploitability:
                exploitability = epss
            if epss != v.epss or kev != v.in_kev:
                v = v.model_copy(update={"epss": epss, "in_kev": kev})
            updated.append(v)
        vulns = updated
    if any_kev:
        exploitability = 1.0
    owner = context.owners.resolve(alert.resource)
    exposure = assess_exposure(alert, data)
    config_json = alert.enrichment.resource_config_json
    if not config_json and data and context.keep_resource_config and (resource_data is not None or from_lookup):
        config_json = json.dumps(data, default=str)
    enrichment = Enrichment(
        internet_exposed=bool(exposure),
        exploitability=exploitability,
        in_kev=any_kev,
        **owner.attributes(),
        resource_config_json=config_json,
        feeds_as_of=feeds.as_of,
        exposure_reason=exposure.reason,
        admin_exposed=exposure.admin,
    )
    # Secrets in the alert's text and resource data stop here: prisma.alerts and the scored topic
    # (and all that is composed from them) carry none; prisma.alerts.raw keeps what Prisma sent.
    return redact_alert(alert.model_copy(update={"enrichment": enrichment, "vulnerabilities": vulns}))
