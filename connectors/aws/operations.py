"""The registry of AWS operations the executor may call, one small plug-in per operation.

Nothing outside :data:`REGISTRY` is ever called: the executor checks a planned action against it
before it starts a child process, and the child checks again before it calls boto3. Each entry
knows how to read the state the operation changes (so a dry run can show what is there now and a
real run can show the state before and after), whether the API has its own ``DryRun`` flag (EC2:
then a dry run asks AWS whether the call would succeed, with the executor's own permissions), and
which parameter names the resource changed (it must be the action's ``target_resource``).

=====================  ==================================  ========  =====================================
service                operation                           DryRun    state read
=====================  ==================================  ========  =====================================
s3                     PutPublicAccessBlock                no        GetPublicAccessBlock
ec2                    RevokeSecurityGroupIngress          yes       DescribeSecurityGroups
iam                    DetachRolePolicy                    no        ListAttachedRolePolicies
iam                    PutRolePolicy                       no        GetRolePolicy (the named policy)
iam                    DetachUserPolicy                    no        ListAttachedUserPolicies
ec2                    EnableEbsEncryptionByDefault        yes       GetEbsEncryptionByDefault
cloudtrail             StartLogging                        no        GetTrailStatus
cloudtrail             CreateTrail                         no        DescribeTrails
=====================  ==================================  ========  =====================================
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

__all__ = ["REGISTRY", "SupportedOperation", "supported"]

#: Reads the current state an operation changes: ``(boto3 client, operation parameters) -> JSON``.
StateReader = Callable[[Any, Mapping[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class SupportedOperation:
    """One operation the executor runs: its service, name, whether it has a DryRun flag, its state read."""

    service: str
    operation: str
    native_dry_run: bool
    read_state: StateReader
    description: str
    target_parameter: str | None = None  # the parameter naming the resource changed; None: region-wide

    def targets(self, parameters: Mapping[str, Any], target_resource: str) -> bool:
        """True when ``parameters`` change ``target_resource`` (its name, id or ARN) and nothing else.

        The last line of defence behind plan validation: an action whose parameters name another
        resource than the one it declares (and the alert names) is never run.
        """
        if self.target_parameter is None:
            return True
        value = parameters.get(self.target_parameter)
        if not isinstance(value, str) or not value:
            return False
        return value == target_resource or _last_segment(target_resource) == value


def _last_segment(resource: str) -> str:
    """``payroll`` for ``arn:aws:s3:::payroll``, ``role/x`` -> ``x``, ``sg-1`` for ``...:security-group/sg-1``."""
    return resource.rsplit("/", 1)[-1].rsplit(":", 1)[-1]


def _without_metadata(response: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in response.items() if key != "ResponseMetadata"}


def _public_access_block(client: Any, parameters: Mapping[str, Any]) -> dict[str, Any]:
    try:
        return _without_metadata(client.get_public_access_block(Bucket=parameters["Bucket"]))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchPublicAccessBlockConfiguration":
            return {"PublicAccessBlockConfiguration": None}
        raise


def _security_group(client: Any, parameters: Mapping[str, Any]) -> dict[str, Any]:
    if "GroupId" in parameters:
        found = client.describe_security_groups(GroupIds=[parameters["GroupId"]])
    else:
        found = client.describe_security_groups(GroupNames=[parameters["GroupName"]])
    group = found["SecurityGroups"][0]
    return {"GroupId": group["GroupId"], "IpPermissions": group.get("IpPermissions", [])}


def _role_policies(client: Any, parameters: Mapping[str, Any]) -> dict[str, Any]:
    found = client.list_attached_role_policies(RoleName=parameters["RoleName"])
    return {"AttachedPolicies": found.get("AttachedPolicies", [])}


def _inline_policy(client: Any, parameters: Mapping[str, Any]) -> dict[str, Any]:
    try:
        found = client.get_role_policy(RoleName=parameters["RoleName"], PolicyName=parameters["PolicyName"])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchEntity":
            return {"PolicyName": parameters["PolicyName"], "PolicyDocument": None}
        raise
    return {"PolicyName": found["PolicyName"], "PolicyDocument": found["PolicyDocument"]}


def _user_policies(client: Any, parameters: Mapping[str, Any]) -> dict[str, Any]:
    found = client.list_attached_user_policies(UserName=parameters["UserName"])
    return {"AttachedPolicies": found.get("AttachedPolicies", [])}


def _ebs_default_encryption(client: Any, parameters: Mapping[str, Any]) -> dict[str, Any]:
    return {"EbsEncryptionByDefault": bool(client.get_ebs_encryption_by_default()["EbsEncryptionByDefault"])}


def _trail_status(client: Any, parameters: Mapping[str, Any]) -> dict[str, Any]:
    status = client.get_trail_status(Name=parameters["Name"])
    return {"IsLogging": bool(status.get("IsLogging"))}


def _trails(client: Any, parameters: Mapping[str, Any]) -> dict[str, Any]:
    name = parameters["Name"]
    found = client.describe_trails(trailNameList=[name])
    # Kept to the named trail: some implementations (moto) answer every trail of the region.
    return {"trailList": [{"Name": trail.get("Name"), "S3BucketName": trail.get("S3BucketName"),
                           "IsMultiRegionTrail": trail.get("IsMultiRegionTrail")}
                          for trail in found.get("trailList", []) if name in (trail.get("Name"), trail.get("TrailARN"))]}


_ENTRIES = (
    SupportedOperation("s3", "PutPublicAccessBlock", False, _public_access_block,
                       "Block public ACLs and policies on one bucket", "Bucket"),
    SupportedOperation("ec2", "RevokeSecurityGroupIngress", True, _security_group,
                       "Remove inbound rules from one security group", "GroupId"),
    SupportedOperation("iam", "DetachRolePolicy", False, _role_policies, "Detach a managed policy from a role",
                       "RoleName"),
    # CIEM least privilege: the reduced inline policy, which validation lints before anyone approves it.
    SupportedOperation("iam", "PutRolePolicy", False, _inline_policy, "Put a role's least-privilege inline policy",
                       "RoleName"),
    SupportedOperation("iam", "DetachUserPolicy", False, _user_policies, "Detach a managed policy from a user",
                       "UserName"),
    SupportedOperation("ec2", "EnableEbsEncryptionByDefault", True, _ebs_default_encryption,
                       "Encrypt new EBS volumes of the region by default"),
    SupportedOperation("cloudtrail", "StartLogging", False, _trail_status, "Start logging on a trail", "Name"),
    # A new trail's name is not the alert's resource: the plan targets the account it is created in.
    SupportedOperation("cloudtrail", "CreateTrail", False, _trails, "Create a trail (before StartLogging)"),
)

#: ``(service, operation)`` to its plug-in: every operation the executor may call.
REGISTRY: dict[tuple[str, str], SupportedOperation] = {(entry.service, entry.operation): entry for entry in _ENTRIES}


def supported(service: str, operation: str) -> SupportedOperation | None:
    """The plug-in for ``service``/``operation`` (exact botocore names), or None: not to be called."""
    return REGISTRY.get((service, operation))
