"""The catalogue of Prisma Cloud Compute alert types and what Prismaflow makes of each.

A Compute alert profile sends one webhook body per alert; its ``type`` macro names the alert type
(``api.AlertType`` in the Compute OpenAPI spec: ``containerRuntime``, ``hostCompliance``,
``cloudDiscovery``...; the console renders some with spaces, ``Container Runtime``). Alerts
fetched for Cortex XSOAR carry the same types under ``kind`` (``audit``, ``vulnerability``,
``compliance``, ``cloudDiscovery``). :func:`alert_type_of` reads either and returns the
:class:`AlertType` that decides how the body is normalised, with its default severity: the one
used when the alert states no severity of its own (documented in ``README.md``; the description
then says that the severity is a default, so it is never silently invented).

A type missing from the catalogue is unsupported: the receiver dead-letters the body once, with
a reason that names the type.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from processors.models import Severity

__all__ = ["DEFAULT_SEVERITY", "AlertType", "Category", "alert_type_of", "default_severity_note", "type_key"]


class Category(str, Enum):
    """How a Compute alert is normalised; the value is also its ``policy_type``."""

    RUNTIME = "runtime"
    WAAS = "waas"
    NETWORK_FIREWALL = "network_firewall"
    ACCESS = "access"
    KUBERNETES = "kubernetes_audit"
    HEALTH = "health"
    INCIDENT = "workload_incident"
    COMPLIANCE = "workload_compliance"
    VULNERABILITY = "workload_vulnerability"
    CLOUD_DISCOVERY = "cloud_discovery"


#: Severity used when an alert of the category states none (neither itself nor in its audits,
#: CVEs or compliance issues). Incidents and WAAS detections are attacks in progress; runtime,
#: firewall, access and admission events are suspicious activity Compute did not rank; an
#: unprotected cloud resource or a Defender health message is inventory, not an attack.
DEFAULT_SEVERITY: Mapping[Category, Severity] = {
    Category.INCIDENT: Severity.HIGH,
    Category.WAAS: Severity.HIGH,
    Category.RUNTIME: Severity.MEDIUM,
    Category.NETWORK_FIREWALL: Severity.MEDIUM,
    Category.ACCESS: Severity.MEDIUM,
    Category.KUBERNETES: Severity.MEDIUM,
    Category.COMPLIANCE: Severity.MEDIUM,
    Category.VULNERABILITY: Severity.MEDIUM,
    Category.CLOUD_DISCOVERY: Severity.LOW,
    Category.HEALTH: Severity.LOW,
}


@dataclass(frozen=True, slots=True)
class AlertType:
    """One supported Compute alert type: its category and the resource it is about.

    ``subject`` is ``host``, ``container``, ``image``, ``function`` or ``""`` (whatever the body
    names); it picks the resource of compliance and vulnerability alerts.
    """

    key: str
    category: Category
    subject: str = ""

    @property
    def default_severity(self) -> Severity:
        return DEFAULT_SEVERITY[self.category]


def _types(category: Category, subject: str, *keys: str) -> dict[str, AlertType]:
    return {k: AlertType(k, category, subject) for k in keys}


_CATALOGUE: Mapping[str, AlertType] = {
    **_types(Category.RUNTIME, "", "containerruntime", "hostruntime", "serverlessruntime",
             "appembeddedruntime", "runtime", "audit", "containersecurityevents", "hostsecurityevents"),
    **_types(Category.WAAS, "", "containerappfirewall", "hostappfirewall", "appembeddedappfirewall",
             "serverlessappfirewall", "agentlessappfirewall", "appfirewall", "waas"),
    **_types(Category.NETWORK_FIREWALL, "", "networkfirewall", "containernetworkfirewall",
             "hostnetworkfirewall", "cnnf"),
    **_types(Category.ACCESS, "", "access", "hostaccess", "dockeraccess", "kubernetesaccess"),
    **_types(Category.KUBERNETES, "", "admission", "kubernetesaudit"),
    **_types(Category.HEALTH, "", "defender", "waashealth"),
    **_types(Category.INCIDENT, "", "incident", "incidents"),
    **_types(Category.COMPLIANCE, "host", "hostcompliance", "hostcompliancescan", "vmcompliance"),
    **_types(Category.COMPLIANCE, "container", "containercompliance", "containercompliancescan",
             "containerandimagecompliance"),
    **_types(Category.COMPLIANCE, "image", "imagecompliance", "registrycompliance"),
    **_types(Category.COMPLIANCE, "", "compliance"),
    **_types(Category.VULNERABILITY, "host", "hostvulnerability", "vmvulnerability"),
    **_types(Category.VULNERABILITY, "image", "containervulnerability", "imagevulnerability",
             "registryvulnerability"),
    **_types(Category.VULNERABILITY, "", "vulnerability", "vulnerabilities"),
    **_types(Category.CLOUD_DISCOVERY, "", "clouddiscovery"),
}

_SEPARATORS = re.compile(r"[\s_\-]+")


def type_key(text: str) -> str:
    """``Container Runtime``, ``containerRuntime`` and ``container_runtime`` all give ``containerruntime``."""
    return _SEPARATORS.sub("", text).lower()


def alert_type_of(body: Mapping[str, Any]) -> tuple[AlertType | None, str]:
    """Return the alert type a Compute webhook body names, and the name as written.

    ``type`` is read first, then ``kind`` (XSOAR-provider alerts use ``kind`` for the alert type
    and ``type`` for the resource kind). Returns ``(None, name)`` for a type outside the
    catalogue and ``(None, "")`` when neither field holds a string.
    """
    names = [v.strip() for v in (body.get("type"), body.get("kind")) if isinstance(v, str) and v.strip()]
    for name in names:
        found = _CATALOGUE.get(type_key(name))
        if found is not None:
            return found, name
    return None, names[0] if names else ""


def default_severity_note(category: Category) -> str:
    """The text added to a description when the severity is the category's default."""
    return (f"[severity not stated by Prisma Cloud; {DEFAULT_SEVERITY[category].value} is the default "
            f"for {category.value} alerts]")
