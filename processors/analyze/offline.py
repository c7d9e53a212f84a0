"""The offline analyser: a deterministic draft from the matched playbook, the policy's own
recommendation and the retrieved passages.

Used when no LLM is configured, below the LLM threshold, when the budget or rate limit is spent, and
when the LLM fails. It writes the same :class:`~processors.analyze.draft.LlmAnalysisDraft` the model
would, which then goes through the same grounding and assembly, so the output has the same schema
(``analyser=OFFLINE``, ``model=""``, summary prefixed ``[Offline analysis: <reason>]``).

Without a playbook it falls back to the recommendation alone (low confidence); with neither, the draft
says the evidence is insufficient.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from processors.analyze.draft import DraftEvidence, DraftStep, LlmAnalysisDraft
from processors.analyze.facts import AlertFacts
from processors.analyze.playbook import Playbook, PlaybookStep, render
from processors.analyze.retrieval import Passage
from processors.models import Cloud, Vulnerability

__all__ = ["OfflineAnalyser", "template_values"]

_SAFE_NAME = re.compile(r"^[A-Za-z0-9._:/@+=,-]{1,128}$")
_CLOUD_LABEL = {Cloud.AWS: "AWS", Cloud.AZURE: "Azure", Cloud.GCP: "Google Cloud"}
_PORT = re.compile(r"\bport\D{0,3}(\d{1,5})\b|\((\d{1,5})\)", re.IGNORECASE)
_NAMED_PORTS = {"ssh": "22", "rdp": "3389", "mysql": "3306", "postgres": "5432", "mongo": "27017"}


def _short_id(resource_id: str) -> str:
    return re.split(r"[/:]", resource_id.rstrip("/"))[-1] if resource_id else ""


def _port(policy_name: str) -> str:
    match = _PORT.search(policy_name)
    if match:
        return match.group(1) or match.group(2)
    lowered = policy_name.lower()
    return next((port for word, port in _NAMED_PORTS.items() if word in lowered), "")


def _flags(config: dict[str, Any], prefix: str = "", depth: int = 0) -> list[tuple[str, Any]]:
    """Leaf settings with short scalar values (the ones a finding is usually about)."""
    out: list[tuple[str, Any]] = []
    for key, value in config.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and depth < 3:
            out.extend(_flags(value, path, depth + 1))
        elif isinstance(value, bool) or (isinstance(value, str | int | float) and len(str(value)) <= 40):
            out.append((path, value))
    return out


def template_values(facts: AlertFacts) -> dict[str, str]:
    """The ``{{name}}`` values for playbook templates, from the alert's facts."""
    alert, resource, enrichment = facts.scored.alert, facts.scored.alert.resource, facts.scored.alert.enrichment
    short = _short_id(resource.resource_id)
    name = resource.name if _SAFE_NAME.fullmatch(resource.name or "") else ""
    env = enrichment.environment.value
    label_env = {"prod": "production ", "unknown": ""}.get(env, f"{env} ")
    sensitivity = "" if enrichment.data_sensitivity == "unknown" else enrichment.data_sensitivity
    shown = name or short or "unnamed"
    rtype = f" ({resource.resource_type})" if _SAFE_NAME.fullmatch(resource.resource_type or "") else ""
    cves = [v.cve for v in alert.vulnerabilities]
    kev = [v.cve for v in alert.vulnerabilities if v.in_kev]
    exposed = enrichment.internet_exposed
    return {
        "resource_name": name or short,
        "resource_id": resource.resource_id,
        "short_id": short,
        "region": resource.region,
        "account_id": resource.account_id,
        "resource_label": f"The {label_env}resource {shown}{rtype}",
        "policy_name": alert.policy_name,
        "description": alert.description,
        "environment": "" if env == "unknown" else env,  # prose leaves an unknown value out
        "data_sensitivity": sensitivity,
        "cloud_label": _CLOUD_LABEL.get(resource.cloud, "cloud"),
        "exposure": "internet-exposed" if exposed else "not known to be internet-exposed",
        "exposure_suffix": ", and the instance is reachable from the internet" if exposed else "",
        "cve_list": ", ".join(cves[:5]) + (f" and {len(cves) - 5} more" if len(cves) > 5 else "") or "none listed",
        "kev_sentence": f"{', '.join(kev)} {'is' if len(kev) == 1 else 'are'} listed in CISA KEV as exploited in the wild."
        if kev else "",
        "port": _port(alert.policy_name),
    }


def _vuln_kind(vuln: Vulnerability) -> str:
    if not vuln.fixed_version:
        return "no_fix"
    return "library" if re.search(r"[./_:]", vuln.package) else "os_package"


def _steps(step: PlaybookStep, facts: AlertFacts, values: dict[str, str]) -> list[DraftStep]:
    cloud = facts.cloud.value
    rows: list[dict[str, str]] = [values]
    if step.for_each == "vulnerability":
        rows = [
            {**values, "package": v.package, "installed_version": v.installed_version,
             "from_version": f" from {v.installed_version}" if v.installed_version else "",
             "fixed_version": v.fixed_version, "cve": v.cve}
            for v in facts.scored.alert.vulnerabilities if step.when is None or _vuln_kind(v) == step.when
        ]
    out: list[DraftStep] = []
    for row in rows:
        cli = step.cli.get(cloud) or step.cli.get("host") or ""
        terraform = step.terraform.get(cloud) or ""
        out.append(DraftStep(
            description=render(step.description, row, strict=False) or step.description,
            command=(render(cli, row, strict=True) or "") if cli else "",
            iac_snippet=(render(terraform, row, strict=True) or "") if terraform else "",
        ))
    return out


class OfflineAnalyser:
    """Writes drafts from playbooks; stateless, so one instance serves every alert."""

    def draft(self, facts: AlertFacts, playbook: Playbook | None, passages: Sequence[Passage]) -> LlmAnalysisDraft:
        """The offline draft for ``facts`` (see the module docstring)."""
        alert = facts.scored.alert
        values = template_values(facts)
        evidence = self._evidence(facts, playbook, passages)
        incident = ""
        if facts.scored.incident_id:
            incident = (f" It is part of incident {facts.scored.incident_id} with "
                        f"{len(facts.scored.incident_members)} findings on the same asset.")
        if playbook is None:
            summary = f"{values['resource_label']} violates the Prisma Cloud policy '{alert.policy_name}'.{incident}"
            steps = [DraftStep(description=alert.recommendation, command="", iac_snippet="")] if alert.recommendation else []
            return LlmAnalysisDraft(
                summary=summary,
                business_impact="",
                root_cause=alert.description,
                priority_justification="",
                recommended_actions=[alert.recommendation] if alert.recommendation else [],
                remediation_steps=steps,
                confidence=0.4 if alert.recommendation else 0.2,
                evidence=evidence,
                sufficient_evidence=bool(alert.recommendation),
            )
        actions = [a for a in (render(t, values, strict=False) for t in playbook.actions) if a]
        if alert.recommendation:
            actions.insert(0, f"Prisma Cloud recommends: {alert.recommendation}")
        steps = [s for step in playbook.steps for s in _steps(step, facts, values)]
        confidence = 0.6 + 0.1 * bool(alert.recommendation) + 0.05 * bool(passages) + 0.05 * bool(facts.config)
        return LlmAnalysisDraft(
            summary=(render(playbook.explanation, values, strict=False) or "") + incident,
            business_impact=render(playbook.business_impact, values, strict=False) or "",
            root_cause=render(playbook.root_cause, values, strict=False) or "",
            priority_justification="",
            recommended_actions=actions,
            remediation_steps=steps,
            confidence=round(confidence, 2),
            evidence=evidence,
            sufficient_evidence=True,
        )

    def _evidence(self, facts: AlertFacts, playbook: Playbook | None, passages: Sequence[Passage]) -> list[DraftEvidence]:
        alert = facts.scored.alert
        items = [DraftEvidence(claim=f"Prisma Cloud policy '{alert.policy_name}' ({alert.severity.value}) fired",
                               source="alert", reference="alert.policy_name")]
        if alert.recommendation:
            items.append(DraftEvidence(claim="The policy's own recommendation", source="policy",
                                       reference="alert.recommendation"))
        for path, value in _flags(facts.config)[:3]:
            items.append(DraftEvidence(claim=f"{path} = {json.dumps(value)}", source="resource_config",
                                       reference=f"resource_config.{path}"))
        if alert.enrichment.internet_exposed:
            items.append(DraftEvidence(claim="The resource is reachable from the internet", source="alert",
                                       reference="context.internet_exposed"))
        for i, vuln in enumerate(alert.vulnerabilities[:5]):
            fixed = f", fixed in {vuln.fixed_version}" if vuln.fixed_version else ", no fix available"
            items.append(DraftEvidence(claim=f"{vuln.cve} in {vuln.package}{fixed}", source="alert",
                                       reference=f"vulnerabilities.{i}.cve"))
            if vuln.in_kev:
                items.append(DraftEvidence(claim=f"{vuln.cve} is in CISA KEV", source="kev",
                                           reference=f"vulnerabilities.{i}.in_kev"))
        items.append(DraftEvidence(claim=f"Scored {facts.scored.score}/100, tier {facts.scored.tier.value}",
                                   source="scoring", reference="scoring.score"))
        if playbook is not None:
            items.append(DraftEvidence(claim=f"Playbook '{playbook.title}' (v{playbook.version})", source="playbook",
                                       reference=f"playbook:{playbook.id}"))
        for passage in passages:
            items.append(DraftEvidence(claim=f"{passage.title}: {passage.heading}", source="playbook",
                                       reference=passage.id))
        return items
