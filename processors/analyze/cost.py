"""The cost maths of the analysis stage, pure: which findings are alike, and what a call may cost.

* :func:`cache_key`: alike findings (same prompt version, model, policy and configuration *shape*,
  never the resource id or account) share one key, so they reuse one analysis, which is then
  re-grounded with the new alert's identifiers (:func:`templatise` / :func:`instantiate`).
* :func:`estimate_tokens`: the pre-call estimate the token budget reserves (≈ characters / 4 + the
  output cap).

The stateful parts (the gate, the cache, the rate limit and the token budget, on their clocks) are
the stream layer's: :mod:`streams.analysis.budget`.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Sequence
from typing import Any

from processors.analyze.draft import LlmAnalysisDraft, map_draft_strings
from processors.analyze.facts import AlertFacts
from processors.analyze.port import ChatMessage

__all__ = [
    "cache_key",
    "config_shape",
    "estimate_tokens",
    "instantiate",
    "templatise",
]

_FLAG_VALUE = re.compile(r"^(?:[A-Za-z_-]{1,24}|0\.0\.0\.0/0|::/0|\*)$")


def config_shape(config: dict[str, Any], prefix: str = "", *, identifiers: frozenset[str] = frozenset()) -> list[str]:
    """Sorted key paths of a resource configuration, with the values of flag-like leaves.

    Booleans, short words (``optional``, ``Enabled``), world-open CIDRs, ``*`` and port numbers keep
    their value; names, ids, addresses and dates keep only their key, so two buckets with the same
    settings but different names have the same shape. Values in ``identifiers`` (the alert's own
    resource name, ids and account) never count as flags.
    """
    out: set[str] = set()
    for key, value in config.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            out.update(config_shape(value, path, identifiers=identifiers))
        elif isinstance(value, list):
            for item in value[:20]:
                if isinstance(item, dict):
                    out.update(config_shape(item, f"{path}[]", identifiers=identifiers))
                elif isinstance(item, str) and _FLAG_VALUE.match(item) and item not in identifiers:
                    out.add(f"{path}[]={item}")
            out.add(f"{path}[]")
        elif isinstance(value, bool) or value is None:
            out.add(f"{path}={json.dumps(value)}")
        elif isinstance(value, int | float) and "port" in path.lower() or isinstance(value, str) and _FLAG_VALUE.match(value) and value not in identifiers:
            out.add(f"{path}={value}")
        else:
            out.add(path)
    return sorted(out)


def cache_key(prompt_id: str, prompt_version: str, model: str, facts: AlertFacts) -> str:
    """sha256 over what makes two findings alike for analysis (see the module docstring)."""
    alert = facts.scored.alert
    shape = {
        "prompt": f"{prompt_id}@{prompt_version}",
        "model": model,
        "policy": alert.policy_id,
        "resource_type": alert.resource.resource_type.lower(),
        "cloud": alert.resource.cloud.value,
        "config": config_shape(facts.config, identifiers=frozenset(v for _, v in _identifier_slots(facts))),
        "context": [alert.enrichment.environment.value, alert.enrichment.internet_exposed,
                    alert.enrichment.data_sensitivity, alert.enrichment.criticality.value],
        "vulns": sorted((v.cve, v.package, v.fixed_version) for v in alert.vulnerabilities),
        "incident": bool(facts.scored.incident_id),
        # Runtime findings are about what happened, not a configuration: their text is the shape.
        "runtime": alert.description if alert.policy_type in ("workload_incident", "runtime") else "",
    }
    return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()


def _identifier_slots(facts: AlertFacts) -> list[tuple[str, str]]:
    """(slot, value) for this alert's own identifiers, longest value first."""
    scored, resource = facts.scored, facts.scored.alert.resource
    short = re.split(r"[/:]", resource.resource_id)[-1] if resource.resource_id else ""
    pairs = [("asset_id", resource.asset_id), ("resource_id", resource.resource_id), ("resource_name", resource.name),
             ("short_id", short), ("account_id", resource.account_id), ("account_name", resource.account_name),
             ("alert_id", scored.alert.alert_id), ("incident_id", scored.incident_id or "")]
    return sorted(((s, v) for s, v in pairs if len(v) >= 3), key=lambda p: -len(p[1]))


def templatise(draft: LlmAnalysisDraft, facts: AlertFacts) -> LlmAnalysisDraft:
    """``draft`` with this alert's identifiers replaced by ``⟦slot⟧`` markers, ready to cache."""
    slots = _identifier_slots(facts)

    def replace(text: str) -> str:
        for slot, value in slots:
            text = text.replace(value, f"⟦{slot}⟧")
        return text

    return map_draft_strings(draft, replace)


def instantiate(draft: LlmAnalysisDraft, facts: AlertFacts) -> LlmAnalysisDraft:
    """A cached ``draft`` with the ``⟦slot⟧`` markers filled from another alert's identifiers."""
    values = dict(_identifier_slots(facts))
    return map_draft_strings(draft, lambda t: re.sub(r"⟦(\w+)⟧", lambda m: values.get(m.group(1), "unknown"), t))


def estimate_tokens(messages: Sequence[ChatMessage], max_output_tokens: int, *, calls: int = 1) -> int:
    """A pessimistic pre-call estimate: prompt characters / 4 (+ the schema) plus the output cap, per call."""
    prompt = sum(len(m["content"]) for m in messages) + 2500  # the JSON schema travels with the request
    return calls * (math.ceil(prompt / 4) + max_output_tokens)
