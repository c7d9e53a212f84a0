"""What the model writes: :class:`LlmAnalysisDraft`, and the strict JSON schema sent as ``response_format``.

The draft holds only what a model may author: prose, proposed actions and steps, its confidence and
its evidence. Everything that decides or identifies (priority, approval path, ids, hashes,
timestamps, analyser, model) is filled by our code when the :class:`processors.records.Analysis` is
assembled, so nothing in alert data can steer them through the model.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DraftEvidence",
    "DraftStep",
    "EvidenceSource",
    "LlmAnalysisDraft",
    "draft_json_schema",
    "map_draft_strings",
]

EvidenceSource = Literal["alert", "resource_config", "policy", "playbook", "scoring", "epss", "kev", "compliance"]


class _Draft(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DraftStep(_Draft):
    """One remediation step; its order is its position in the list."""

    description: str = Field(description="What the step does, one sentence")
    command: str = Field(description="One CLI command (aws, az, gcloud, package manager) or empty")
    iac_snippet: str = Field(description="A Terraform or CloudFormation snippet, or empty")


class DraftEvidence(_Draft):
    """A fact the draft rests on and where in the input it is."""

    claim: str
    source: EvidenceSource
    reference: str = Field(description="A field path in alert_data (e.g. resource.tags.env) or a passage id")


class LlmAnalysisDraft(_Draft):
    """The structured answer the model must return (``response_format`` json_schema, strict)."""

    summary: str = Field(description="Plain-language summary of the exposure, 1-3 sentences")
    business_impact: str
    root_cause: str
    priority_justification: str = Field(description="Why the given priority is right; never a different one")
    recommended_actions: list[str]
    remediation_steps: list[DraftStep]
    confidence: float = Field(ge=0.0, le=1.0)
    evidence: list[DraftEvidence]
    sufficient_evidence: bool = Field(description="False when the data does not support a conclusion")


def _strictify(node: Any) -> Any:
    """Make a pydantic schema acceptable to strict structured outputs: every property required,
    ``additionalProperties: false`` on objects, no ``default`` or ``title`` noise."""
    if isinstance(node, dict):
        out = {k: _strictify(v) for k, v in node.items() if k not in ("default", "title", "properties")}
        if isinstance(node.get("properties"), dict):  # property names are data, never dropped
            out["properties"] = {k: _strictify(v) for k, v in node["properties"].items()}
        if out.get("type") == "object" and "properties" in out:
            out["required"] = list(out["properties"])
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [_strictify(v) for v in node]
    return node


@functools.cache
def _schema() -> dict[str, Any]:
    return dict(_strictify(LlmAnalysisDraft.model_json_schema()))


def draft_json_schema() -> dict[str, Any]:
    """The strict JSON schema of :class:`LlmAnalysisDraft` (a fresh copy; computed once)."""
    return copy.deepcopy(_schema())


def map_draft_strings(draft: LlmAnalysisDraft, fn: Callable[[str], str]) -> LlmAnalysisDraft:
    """A copy of ``draft`` with ``fn`` applied to every string in it (restoring redactions, templating)."""

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return fn(value)
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        return value

    return LlmAnalysisDraft.model_validate(walk(draft.model_dump()))
