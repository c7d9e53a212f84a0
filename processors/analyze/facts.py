"""The facts of one scored alert, as the analysers see them, and how they are fenced for a prompt.

:func:`build_facts` picks the fields an analysis may rest on (never the owner's address or the raw
payload) into a plain dict with stable paths (``alert.policy_name``, ``resource.tags.env``,
``resource_config.MetadataOptions.HttpTokens`` ...); evidence references use these paths and
grounding checks identifiers against :attr:`AlertFacts.corpus`, the unredacted text of the facts.

:func:`fence_json` serialises data for a prompt so it cannot break out of its fence: ``<``, ``>``
and ``&`` become JSON ``\\u003c``/``\\u003e``/``\\u0026`` escapes, so no ``</alert_data>`` or other
tag can appear literally, whatever an attacker put into a tag, name or command line.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from processors.analyze.redact import Redactor
from processors.models import Cloud, ScoredAlert
from processors.records import Priority

__all__ = ["AlertFacts", "build_facts", "fence_json", "redacted_data", "resolve_path"]

logger = logging.getLogger(__name__)

_MAX_STR = 600
_MAX_LIST = 20
_MAX_DEPTH = 6


def _bound(value: Any, depth: int = 0) -> Any:
    """Trim long strings and lists and deep nesting so a huge config cannot flood a prompt."""
    if isinstance(value, str):
        return value if len(value) <= _MAX_STR else value[:_MAX_STR] + "…"
    if isinstance(value, dict):
        if depth >= _MAX_DEPTH:
            return "…"
        return {str(k): _bound(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_bound(v, depth + 1) for v in value[:_MAX_LIST]]
    return value


@dataclass(frozen=True)
class AlertFacts:
    """What an analysis may rest on: the fact dict, the parsed resource config and the grounding corpus."""

    scored: ScoredAlert
    priority: Priority
    data: dict[str, Any]
    config: dict[str, Any]
    config_valid: bool
    corpus: str = field(repr=False)

    @property
    def cloud(self) -> Cloud:
        return self.scored.alert.resource.cloud


def build_facts(scored: ScoredAlert, priority: Priority) -> AlertFacts:
    """The fact dict of ``scored`` (see the module docstring); ``priority`` is the one our code decided."""
    alert, resource, enrichment = scored.alert, scored.alert.resource, scored.alert.enrichment
    config: dict[str, Any] = {}
    config_valid = True
    if enrichment.resource_config_json:
        try:
            parsed = json.loads(enrichment.resource_config_json)
            config = parsed if isinstance(parsed, dict) else {"value": parsed}
        except json.JSONDecodeError:
            config_valid = False
            logger.debug("resource config is not JSON alert_id=%s", alert.alert_id)
    data: dict[str, Any] = {
        "alert": {
            "alert_id": alert.alert_id,
            "policy_name": alert.policy_name,
            "policy_type": alert.policy_type,
            "module": alert.module.value,
            "severity": alert.severity.value,
            "status": alert.status.value,
            "description": alert.description,
            "recommendation": alert.recommendation,
            "first_seen": alert.first_seen.isoformat(),
        },
        "resource": {
            "resource_id": resource.resource_id,
            "name": resource.name,
            "resource_type": resource.resource_type,
            "cloud": resource.cloud.value,
            "account_id": resource.account_id,
            "account_name": resource.account_name,
            "region": resource.region,
            "tags": dict(resource.tags),
        },
        "context": {
            "internet_exposed": enrichment.internet_exposed,
            "environment": enrichment.environment.value,
            "criticality": enrichment.criticality.value,
            "data_sensitivity": enrichment.data_sensitivity,
            "team": enrichment.team,
            "in_kev": enrichment.in_kev,
            "exploitability": enrichment.exploitability,
        },
        "resource_config": _bound(config),
        "vulnerabilities": [
            {"cve": v.cve, "package": v.package, "installed_version": v.installed_version,
             "fixed_version": v.fixed_version, "cvss": v.cvss, "epss": v.epss, "in_kev": v.in_kev}
            for v in alert.vulnerabilities[:_MAX_LIST]
        ],
        "compliance": [{"standard": c.standard, "requirement": c.requirement} for c in alert.compliance],
        "scoring": {
            "score": scored.score,
            "tier": scored.tier.value,
            "priority": priority.value,
            "factors": [{"name": f.name, "reason": f.reason} for f in scored.factors],
        },
        "incident": {"incident_id": scored.incident_id or "", "members": list(scored.incident_members)},
    }
    corpus = json.dumps(data, ensure_ascii=False, sort_keys=True)
    return AlertFacts(scored, priority, data, config, config_valid, corpus)


def _redact_value(value: Any, redactor: Redactor, key: str = "") -> Any:
    if isinstance(value, str):
        return redactor.redact_tag(key, value) if key else redactor.redact(value)
    if isinstance(value, dict):
        return {k: _redact_value(v, redactor, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_value(v, redactor) for v in value]
    return value


def redacted_data(facts: AlertFacts, redactor: Redactor) -> dict[str, Any]:
    """The fact dict with secrets and account identifiers replaced (a value under a secret-named key wholly)."""
    out: dict[str, Any] = _redact_value(facts.data, redactor)
    return out


def fence_json(value: Any) -> str:
    """``value`` as indented JSON that cannot contain a literal tag (see the module docstring)."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, indent=1)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def resolve_path(data: dict[str, Any], path: str) -> bool:
    """True when the dotted ``path`` (``resource.tags.env``, ``vulnerabilities.0.cve``) exists in ``data``."""
    node: Any = data
    for part in path.replace("[", ".").replace("]", "").split("."):
        if not part:
            continue
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False
    return True
