"""The remediation plan: the exact actions a fix consists of, bound to one alert and one resource.

A plan is the unit everything else refers to: validation checks each of its actions, a remediation
request carries it, an approval is a signature over its :meth:`RemediationPlan.digest`, and the
executor runs exactly its actions, nothing else. A plan is a frozen value; changing anything in it
(an action, a parameter, the target) makes a different digest, so an approval given for one plan can
never be replayed onto another.

Actions are structured, never shell text: an AWS action is a botocore service and operation with
its parameters (what boto3 calls), an Azure or GCP action is an argument vector for the configured
runner, a Terraform action is a snippet for review. Alert content (names, tags, descriptions) may
appear only as parameter *values*, and validation decides whether those values are acceptable.
"""

from __future__ import annotations

import hashlib
import json
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from processors.models import Cloud, Environment

__all__ = [
    "ActionKind",
    "ChangeRisk",
    "PlannedAction",
    "RemediationPlan",
    "canonical_json",
]


class ActionKind(str, Enum):
    """How an action is carried out."""

    AWS_API = "aws_api"  # one botocore operation, run through boto3 by the executor
    AZURE_CLI = "azure_cli"  # an `az` argument vector, run only through a configured runner
    GCLOUD_CLI = "gcloud_cli"  # a `gcloud` argument vector, run only through a configured runner
    TERRAFORM = "terraform"  # a Terraform snippet: validated and shown, applied by the owner's pipeline


class ChangeRisk(str, Enum):
    """How risky the change itself is (not the alert): decides how many approvals it needs."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PlannedAction(_Value):
    """One step of a fix, in a form a machine can check and run without interpreting text.

    For ``AWS_API``: ``service`` is the botocore service name (``s3``, ``ec2``, ``iam``,
    ``cloudtrail``), ``operation`` the botocore operation name (``PutPublicAccessBlock``) and
    ``parameters`` its input as boto3 takes it. For the CLI kinds ``argv`` is the argument vector
    without the program name's shell (``["storage", "account", "update", ...]``). For ``TERRAFORM``
    ``terraform`` holds the HCL snippet.
    """

    kind: ActionKind
    description: str = Field(default="", description="What the action does, in one sentence")
    target_resource: str = Field(description="The resource the action changes: ARN, resource id or name")
    region: str = Field(default="", description="Cloud region the action runs in; empty for global services")
    service: str = Field(default="", description="botocore service name, for AWS_API")
    operation: str = Field(default="", description="botocore operation name, for AWS_API")
    parameters: dict[str, Any] = Field(default_factory=dict, description="Operation input, JSON values only")
    argv: tuple[str, ...] = Field(default=(), description="Argument vector, for AZURE_CLI and GCLOUD_CLI")
    terraform: str = Field(default="", description="HCL snippet, for TERRAFORM")

    @field_validator("parameters")
    @classmethod
    def _json_values_only(cls, value: dict[str, Any]) -> dict[str, Any]:
        # Round-trips through JSON so that the digest is defined for every plan that validates.
        try:
            canonical_json(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"parameters must be JSON values: {exc}") from None
        return value


class RemediationPlan(_Value):
    """A fix for one alert on one resource: the actions, where they run, and how risky they are."""

    plan_id: str
    alert_id: str
    asset_id: str
    policy_family: str = Field(
        description="The kind of misconfiguration the fix addresses (e.g. s3_public_access); picks the "
                    "allowlist of operations the plan may use")
    cloud: Cloud
    account_id: str = ""
    region: str = ""
    resource_id: str = Field(description="The alert's own resource; every action must target it")
    environment: Environment = Environment.UNKNOWN
    summary: str = ""
    actions: tuple[PlannedAction, ...] = Field(min_length=1)
    change_risk: ChangeRisk = ChangeRisk.MEDIUM
    touches_iam: bool = Field(default=False, description="True when an action changes identities or permissions")

    def digest(self) -> str:
        """SHA-256 (hex) over the canonical JSON of the whole plan: what an approval signs."""
        return hashlib.sha256(canonical_json(self.model_dump(mode="json")).encode("utf-8")).hexdigest()


def canonical_json(value: Any) -> str:
    """JSON with sorted keys, no insignificant white space and no NaN: one text per value."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
