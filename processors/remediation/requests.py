"""The remediation records on Kafka: requests on ``prisma.remediations``, decisions on
``prisma.remediations.decisions``.

Like every record in :mod:`processors.records` (which re-exports these), each has an Avro schema of
the same name in ``schemas/`` that a test keeps in step field by field. A request carries its plan as
canonical JSON together with the plan's digest, which every decision signs
(:mod:`processors.remediation.signing`); :mod:`processors.remediation.approval` decides what the
decisions add up to.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import Enum

from pydantic import Field, model_validator

from processors.models import Environment, Record
from processors.remediation.plan import ChangeRisk, RemediationPlan

__all__ = ["RemediationStep", "RolloutMode", "RemediationRequest", "Decision", "ApprovalVote", "RemediationDecision"]

_INT_MAX = 2**31 - 1  # fields that are Avro "int"


class RemediationStep(Record):
    """One step of a fix, in the order a person (or the executor) should apply it."""

    order: int = Field(ge=1, le=_INT_MAX, description="1-based position of the step in the plan")
    description: str
    command: str = Field(default="", description="A CLI command that performs the step, if any")
    iac_snippet: str = Field(default="", description="Terraform/CloudFormation/ARM snippet that performs the step")


class RolloutMode(str, Enum):
    """How far Prismaflow may act in an environment."""

    MONITOR = "monitor"
    ASSIST = "assist"
    AUTO = "auto"


class RemediationRequest(Record):
    """A proposed fix waiting for approval (or, in auto mode, for the allowlist check).

    Key on ``prisma.remediations``: ``request_id``.
    """

    request_id: str
    alert_id: str
    incident_id: str | None = None
    asset_id: str
    mode: RolloutMode
    environment: Environment = Environment.UNKNOWN
    summary: str = ""
    steps: list[RemediationStep] = Field(default_factory=list)
    approval_path: str = ""
    requested_by: str = Field(default="system", description="Component or person that asked for the fix")
    requested_at: datetime
    expires_at: datetime | None = Field(default=None, description="Approval deadline (SLA); expired after it")
    plan_id: str = ""
    policy_family: str = Field(default="", description="Kind of misconfiguration the plan fixes; picks its allowlist")
    target_resource: str = Field(default="", description="The resource every action changes (the alert's own)")
    change_risk: ChangeRisk = ChangeRisk.MEDIUM
    touches_iam: bool = False
    required_approvals: int = Field(default=1, ge=0, le=_INT_MAX,
                                    description="Distinct approvers needed before the plan may run")
    plan_digest: str = Field(default="", description="SHA-256 (hex) of plan_json: what every approval signs")
    plan_json: str = Field(default="", description="The plan as canonical JSON: the exact actions and parameters")
    escalate_at: datetime | None = Field(default=None, description="When a still pending request is escalated")
    escalation_channel: str = Field(default="", description="Where an overdue request is escalated")

    @model_validator(mode="after")
    def _digest_binds_the_plan(self) -> RemediationRequest:
        # The digest is what approvals sign: a request whose digest is not its plan's would let an
        # approval of one plan run another.
        if self.plan_json and hashlib.sha256(self.plan_json.encode("utf-8")).hexdigest() != self.plan_digest:
            raise ValueError("plan_digest is not the SHA-256 of plan_json")
        return self

    def plan(self) -> RemediationPlan | None:
        """The plan the request carries (None for a request that only has human-readable steps)."""
        return RemediationPlan.model_validate_json(self.plan_json) if self.plan_json else None


class Decision(str, Enum):
    """What became of a remediation request."""

    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"


class ApprovalVote(Record):
    """One signed approval as the approval service counted it (carried by an APPROVED outcome)."""

    approver: str
    decided_at: datetime
    plan_digest: str
    signature: str
    key_id: str = ""


class RemediationDecision(Record):
    """One approver's signed answer to a remediation request, or (``final``) the approval service's
    outcome for it: APPROVED with the approvals that made it executable, REJECTED or EXPIRED. The
    executor acts on final APPROVED outcomes only, after checking them
    (:func:`processors.remediation.approval.may_run`).

    Key on ``prisma.remediations.decisions``: ``request_id``.
    """

    request_id: str
    alert_id: str
    asset_id: str
    decision: Decision
    approver: str | None = Field(default=None, description="Identity of the person who decided; None when expired")
    reason: str = ""
    decided_at: datetime
    plan_digest: str = Field(default="", description="Digest of the plan decided on (the request's plan_digest)")
    signature: str = Field(default="", description="HMAC-SHA256 (hex) over request, digest, decision, approver, time")
    key_id: str = Field(default="", description="Id of the signing key (keys rotate)")
    final: bool = Field(default=False, description="The approval service's outcome (executor input), not one vote")
    approvals: list[ApprovalVote] = Field(default_factory=list, description="On an APPROVED outcome: the approvals")


