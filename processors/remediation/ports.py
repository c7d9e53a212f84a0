"""The ports fix validation uses: what it needs from botocore, Terraform tooling and an IAM linter.

Validation is pure (it decides, it does not load files or run tools), so everything that needs a
library with I/O or a large data set is reached through these Protocols, and :mod:`connectors`
implements them:

* :class:`ServiceCatalog`    botocore's own service models (``connectors.aws.service_models``)
* :class:`TerraformChecker`  python-hcl2 and Checkov (``connectors.iac.terraform``)
* :class:`IamPolicyLinter`   parliament (``connectors.aws.iam_lint``)
* :class:`PermissionSearch`  Prisma's IAM permission search (``connectors.prisma.permissions``),
                             called by the remediation-request stage before the pure planner runs

Tests pass the real implementations; a fake is only useful to prove what validation does when a
tool reports a failure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from processors.remediation.least_privilege import PermissionRecord

__all__ = [
    "IamPolicyLinter",
    "PermissionSearch",
    "ServiceCatalog",
    "ShapeInfo",
    "TerraformBlock",
    "TerraformChecker",
    "TerraformFinding",
]


@dataclass(frozen=True)
class ShapeInfo:
    """The type of one operation input member, as far as translating CLI text needs it.

    ``type_name`` is botocore's shape type (``structure``, ``list``, ``map``, ``string``,
    ``integer``, ``long``, ``boolean``, ``float``, ``double``, ``timestamp``, ``blob``); a structure
    has ``members``, a list its ``member``, a map its ``value``. ``cli_names`` maps a structure's
    members as the AWS CLI spells them (``--public-access-block-configuration``, without the dashes)
    to the member name (``PublicAccessBlockConfiguration``). Deeply nested shapes are cut off (an
    empty structure), which is enough for the shorthand the remediation families use.
    """

    type_name: str
    members: Mapping[str, ShapeInfo] = field(default_factory=dict)
    member: ShapeInfo | None = None
    value: ShapeInfo | None = None
    cli_names: Mapping[str, str] = field(default_factory=dict)


class ServiceCatalog(Protocol):
    """The AWS service models: which operations exist and what their input looks like."""

    def operation_for_cli(self, service: str, cli_operation: str) -> str | None:
        """The operation a CLI verb names (``put-public-access-block`` → ``PutPublicAccessBlock``)."""
        ...

    def operation_exists(self, service: str, operation: str) -> bool:
        """True when ``service`` is a known botocore service with that operation."""
        ...

    def input_shape(self, service: str, operation: str) -> ShapeInfo | None:
        """The operation's input structure; None for an unknown service or operation."""
        ...

    def parameter_errors(self, service: str, operation: str, parameters: Mapping[str, Any]) -> tuple[str, ...]:
        """Every reason ``parameters`` is not a valid input of the operation; empty when valid."""
        ...


@dataclass(frozen=True)
class TerraformFinding:
    """One result of checking a Terraform snippet: a parse error or a failed policy check."""

    check_id: str  # "parse" for a syntax error, else the Checkov check id (CKV_AWS_53)
    message: str
    resource: str = ""


@dataclass(frozen=True)
class TerraformBlock:
    """One ``resource`` or ``data`` block of a snippet, its string attributes unquoted."""

    block: str  # "resource" or "data"
    type: str  # aws_s3_bucket_public_access_block
    name: str
    attributes: Mapping[str, Any] = field(default_factory=dict)


class TerraformChecker(Protocol):
    """Parses Terraform and runs policy checks on it."""

    def parse_errors(self, snippet: str) -> tuple[str, ...]:
        """Why the snippet is not valid HCL2; empty when it parses."""
        ...

    def blocks(self, snippet: str) -> tuple[TerraformBlock, ...]:
        """The ``resource`` and ``data`` blocks the snippet declares (call only when it parses)."""
        ...

    def failed_checks(self, snippet: str, check_ids: Sequence[str]) -> tuple[TerraformFinding, ...]:
        """The named checks the snippet fails (only those that apply to its resources run)."""
        ...


class IamPolicyLinter(Protocol):
    """Lints an IAM policy document (JSON as a mapping)."""

    def findings(self, policy_document: Mapping[str, Any]) -> tuple[str, ...]:
        """Every problem found, one line each (``ISSUE_CODE: detail``); empty when clean."""
        ...


class PermissionSearch(Protocol):
    """What one identity was granted and what it used: Prisma's CIEM permission records."""

    async def permissions_of(self, identity_id: str) -> Sequence[PermissionRecord]:
        """Every permission record whose source is ``identity_id`` (an IAM role ARN or an EC2 instance
        id). Raises the connector's error tree when the search fails; an unknown identity has none."""
        ...
