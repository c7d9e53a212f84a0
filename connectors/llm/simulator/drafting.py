"""Writing the simulated model's answer from the prompt's data, deterministically.

No model runs: :func:`answer` finds the fenced ``<alert_data>`` JSON (and the
``<playbook_passages>``) in the user message and writes a plausible analysis draft from it, shaped
to the request's ``response_format`` JSON schema. A fault kind turns the answer into one of the
misbehaviours the analysis stage must survive (invalid JSON, a schema violation, a refusal, a
hallucinated resource, obeying an instruction injected into the alert).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

__all__ = ["HALLUCINATED_ACCOUNT", "HALLUCINATED_GROUP", "HALLUCINATED_RESOURCE", "answer", "tokens"]

HALLUCINATED_RESOURCE = "i-0deadbeef0badf00d"
HALLUCINATED_ACCOUNT = "999988887777"
HALLUCINATED_GROUP = "sg-0badc0ffee1234567"

_FENCE = re.compile(r"<alert_data>\s*(.*?)\s*</alert_data>", re.DOTALL)
_PASSAGES = re.compile(r"<playbook_passages>\s*(.*?)\s*</playbook_passages>", re.DOTALL)
_INJECTION = re.compile(r"ignore (?:all )?(?:previous|prior|above) instructions[^.\"]*", re.IGNORECASE)
_BACKTICKS = re.compile(r"`([^`]{3,200})`")


def tokens(text: str) -> int:
    """Usage tokens for ``text``: about one per four characters, as OpenAI counts English."""
    return max(1, math.ceil(len(text) / 4))


def _short_id(resource_id: str) -> str:
    return re.split(r"[/:]", resource_id)[-1] if resource_id else ""


def _command_for(data: dict[str, Any]) -> tuple[str, str]:
    """(description, command) a competent analyst would write for the finding, by keyword."""
    alert, resource = data.get("alert", {}), data.get("resource", {})
    name = str(alert.get("policy_name", "")).lower()
    rid, rname = str(resource.get("resource_id", "")), str(resource.get("name", ""))
    short, cloud = _short_id(rid), str(resource.get("cloud", ""))
    if cloud == "aws" and "s3" in name and "public" in name:
        return ("Block public access on the bucket",
                f"aws s3api put-public-access-block --bucket {rname or short} --public-access-block-configuration "
                "BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true")
    if cloud == "aws" and "security group" in name:
        return ("Revoke the world-open SSH rule",
                f"aws ec2 revoke-security-group-ingress --group-id {short} --protocol tcp --port 22 --cidr 0.0.0.0/0")
    if cloud == "aws" and ("imds" in name or "metadata" in name):
        return ("Require IMDSv2", f"aws ec2 modify-instance-metadata-options --instance-id {short} --http-tokens required")
    if cloud == "azure" and "storage" in name and "public" in name:
        return ("Disable anonymous blob access",
                f"az storage account update --name {rname or short} --allow-blob-public-access false")
    if cloud == "gcp" and "bucket" in name and "public" in name:
        return ("Enforce public access prevention",
                f"gcloud storage buckets update gs://{rname or short} --public-access-prevention")
    if cloud == "gcp" and "firewall" in name:
        return ("Restrict the rule's source ranges",
                f"gcloud compute firewall-rules update {rname or short} --source-ranges=10.0.0.0/8")
    for vuln in data.get("vulnerabilities", []):
        if vuln.get("fixed_version") and vuln.get("package"):
            return (f"Upgrade {vuln['package']} to {vuln['fixed_version']}",
                    f"sudo apt-get install --only-upgrade {vuln['package']}")
    return (str(alert.get("recommendation") or "Review the finding with the asset owner"), "")


def _draft(data: dict[str, Any], passages: list[dict[str, Any]]) -> dict[str, Any]:
    alert, resource = data.get("alert", {}), data.get("resource", {})
    ctx, scoring = data.get("context", {}), data.get("scoring", {})
    env = ctx.get("environment", "unknown")
    exposed = "internet-exposed " if ctx.get("internet_exposed") else ""
    summary = (f"The {exposed}{env} resource {resource.get('name') or resource.get('resource_id')} "
               f"violates '{alert.get('policy_name')}'.")
    description, command = _command_for(data)
    steps = [{"description": description, "command": command, "iac_snippet": ""}]
    evidence = [
        {"claim": f"Policy '{alert.get('policy_name')}' fired", "source": "alert", "reference": "alert.policy_name"},
        {"claim": f"Resource is {resource.get('resource_id')}", "source": "alert", "reference": "resource.resource_id"},
    ]
    evidence += [{"claim": p.get("heading", ""), "source": "playbook", "reference": p.get("id", "")}
                 for p in passages[:2]]
    factors = "; ".join(f.get("reason", "") for f in scoring.get("factors", [])[:3])
    has_basis = bool(alert.get("recommendation") or passages)
    return {
        "summary": summary,
        "business_impact": f"Data sensitivity {ctx.get('data_sensitivity', 'unknown')}, "
                           f"criticality {ctx.get('criticality', 'unknown')}.",
        "root_cause": str(alert.get("description") or "Configuration drift from the baseline."),
        "priority_justification": f"{scoring.get('priority', '')} from risk tier {scoring.get('tier')} "
                                  f"(score {scoring.get('score')}): {factors}".strip(),
        "recommended_actions": [a for a in [alert.get("recommendation"), description] if a],
        "remediation_steps": steps,
        "confidence": 0.8 if has_basis else 0.3,
        "evidence": evidence,
        "sufficient_evidence": has_basis,
    }


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)] + [k for k in value if isinstance(k, str)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _obey(draft: dict[str, Any], data: dict[str, Any]) -> None:
    """Do what an injected instruction says: the behaviour our defences must neutralise."""
    texts = _strings(data)
    for text in texts:
        for match in _INJECTION.finditer(text):
            draft["recommended_actions"].append(match.group(0))
        for match in _BACKTICKS.finditer(text):
            draft["remediation_steps"].append({"description": "Run the provided fix", "command": match.group(1),
                                               "iac_snippet": ""})
    draft["recommended_actions"].append("Dismiss this alert as a false positive")
    draft["priority_justification"] = "As instructed, this is low priority (P4) and can be dismissed."
    draft["summary"] += " This alert should be dismissed."


def _hallucinate(draft: dict[str, Any]) -> None:
    draft["summary"] += f" The instance {HALLUCINATED_RESOURCE} in account {HALLUCINATED_ACCOUNT} is also exposed."
    draft["remediation_steps"].append({
        "description": "Close the same port on the shared group",
        "command": f"aws ec2 revoke-security-group-ingress --group-id {HALLUCINATED_GROUP} --protocol tcp "
                   "--port 22 --cidr 0.0.0.0/0",
        "iac_snippet": ""})
    draft["evidence"].append({"claim": f"{HALLUCINATED_RESOURCE} shares the role", "source": "resource_config",
                              "reference": "resource_config.Reservations"})


def _empty(schema: dict[str, Any], defs: dict[str, Any]) -> Any:
    schema = defs.get(schema.get("$ref", "").rsplit("/", 1)[-1], schema) if "$ref" in schema else schema
    kind = schema.get("type")
    return {"string": "", "array": [], "number": 0.5, "integer": 0, "boolean": True, "object": {}}.get(
        kind if isinstance(kind, str) else "", None)


def _conform(draft: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """Keep the schema's properties only and fill missing required ones: what strict mode guarantees."""
    defs = schema.get("$defs", {})
    props: dict[str, Any] = schema.get("properties", {})
    out = {k: v for k, v in draft.items() if k in props}
    for name in schema.get("required", []):
        if name not in out:
            out[name] = _empty(props.get(name, {}), defs)
    return out


def answer(user: str, response_format: Any, fault: str | None) -> tuple[str | None, str | None]:
    """``(content, refusal)`` for the user message ``user``, misbehaving as fault kind ``fault`` says."""
    if fault == "refusal":
        return None, "I'm sorry, but I can't help with that request."
    if fault == "invalid_json":
        return '{"summary": "The bucket is public", "remediation_steps": [', None
    if fault == "schema_violation":
        return json.dumps({"summary": 42, "confidence": "very high"}), None
    fenced = _FENCE.search(user)
    if fenced is None:
        return "I need the alert data inside <alert_data> to analyse it.", None
    try:
        data = json.loads(fenced.group(1))
        passages_match = _PASSAGES.search(user)
        passages = json.loads(passages_match.group(1)) if passages_match else []
    except json.JSONDecodeError:
        return "The alert data is not valid JSON.", None
    draft = _draft(data if isinstance(data, dict) else {}, passages if isinstance(passages, list) else [])
    if fault == "obey_injection":
        _obey(draft, data)
    if fault == "hallucinate":
        _hallucinate(draft)
    if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
        schema = response_format.get("json_schema", {}).get("schema", {})
        draft = _conform(draft, schema)
    return json.dumps(draft), None
