"""CIEM: the IAM permission search, ``POST /api/v1/permission`` and ``POST /api/v1/permission/page``.

Answers IAM queries that select one identity (``config from iam where source.cloud.resource.id =
'<id>'``, or ``.name``) with ``PermissionDto`` records made from the estate: for an AWS IAM role,
and for an EC2 instance through its instance-profile role (the instances the CIEM policy "EC2
instance with IAM role having administrative permissions" fires on). Each identity gets the same
records every time (seeded by its role): a few actions used in the last weeks on resources of its own
account, one used long ago, and many granted but never used (empty ``lastAccessDate``). Roles of
administrative instances hold them through ``AdministratorAccess`` on ``*``, the others through a
customer-managed policy. Other IAM queries are answered 400 ``invalid_rql_query``; the first answer
wraps the page in ``data`` and later pages are the page itself, as ``IAMMicroService.json`` says.
"""

from __future__ import annotations

import hashlib
import random
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from connectors.prisma.simulator.answers import cspm_error, json_answer, read_body
from connectors.prisma.simulator.catalog import REGIONS
from connectors.prisma.simulator.query import encode_token
from connectors.prisma.simulator.snapshots import recall, remember

if TYPE_CHECKING:
    from connectors.prisma.simulator.core import PrismaCloudSimulator

__all__ = ["identity_permissions", "search_permissions", "search_permissions_page"]

_ONE_IDENTITY = re.compile(
    r"^\s*config\s+from\s+iam\s+where\s+source\.cloud\.resource\.(?P<field>id|name)\s*=\s*'(?P<value>[^']{1,512})'\s*$",
    re.IGNORECASE)
_DAY_MS = 86_400_000
_ADMIN = ("arn:aws:iam::aws:policy/AdministratorAccess", "AdministratorAccess", "AWS Managed Policy")

#: Actions a workload role typically uses: (action, destination kind); kinds resolve below.
_USED = (("s3:GetObject", "bucket"), ("s3:ListBucket", "bucket"), ("s3:PutObject", "bucket"),
         ("logs:CreateLogStream", "log_group"), ("logs:PutLogEvents", "log_group"),
         ("dynamodb:Query", "table"), ("kms:Decrypt", "key"), ("ec2:DescribeInstances", "*"),
         ("sts:GetCallerIdentity", "*"))
#: Granted and never used (administrative reach the workload does not need).
_NEVER = ("iam:CreateUser", "iam:PassRole", "iam:AttachRolePolicy", "iam:CreateAccessKey",
          "ec2:RunInstances", "ec2:TerminateInstances", "ec2:AuthorizeSecurityGroupIngress",
          "s3:DeleteBucket", "s3:PutBucketPolicy", "kms:ScheduleKeyDeletion", "lambda:CreateFunction",
          "organizations:LeaveOrganization", "cloudtrail:StopLogging", "rds:DeleteDBInstance",
          "secretsmanager:GetSecretValue", "sts:AssumeRole")
#: Used once, long before any look-back window.
_STALE = (("s3:DeleteObject", "bucket"), ("ec2:StopInstances", "*"))


def _identity(sim: PrismaCloudSimulator, field: str, value: str) -> tuple[dict[str, Any], str] | None:
    """The estate resource the query names and the ARN of the role its permissions come from."""
    for res in sim.estate.resources.values():
        if (res["id"] if field == "id" else res["name"]) != value or res["cloudType"] != "aws":
            continue
        if res["kind"] == "aws_role":
            return res, res["id"]
        profile = res["data"].get("iamInstanceProfile") if res["kind"] == "aws_instance" else None
        if isinstance(profile, dict) and ":role/" in str(profile.get("arn", "")):
            return res, str(profile["arn"])
    return None


def _destination(kind: str, res: dict[str, Any], role: str) -> tuple[str, str, str]:
    """(service, resource id, resource name) of a destination of ``kind`` in the identity's account."""
    account, region, name = res["accountId"], res["regionId"], role.rsplit("/", 1)[-1]
    if kind == "bucket":
        return "s3", f"arn:aws:s3:::acme-{name}-data", f"acme-{name}-data"
    if kind == "log_group":
        group = f"/aws/ec2/{name}"
        return "logs", f"arn:aws:logs:{region}:{account}:log-group:{group}:*", group
    if kind == "table":
        return "dynamodb", f"arn:aws:dynamodb:{region}:{account}:table/{name}-state", f"{name}-state"
    if kind == "key":
        key = hashlib.sha256(role.encode()).hexdigest()
        key_id = f"{key[:8]}-{key[8:12]}-{key[12:16]}-{key[16:20]}-{key[20:32]}"
        return "kms", f"arn:aws:kms:{region}:{account}:key/{key_id}", key_id
    return "", "*", "*"


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def identity_permissions(sim: PrismaCloudSimulator, field: str, value: str) -> list[dict[str, Any]]:
    """Every ``PermissionDto`` of the identity the query names (empty for one the estate lacks)."""
    found = _identity(sim, field, value)
    if found is None:
        return []
    res, role = found
    rng = random.Random(hashlib.sha256(f"{sim.estate.seed}:{role}".encode()).digest())
    # The same role answers the same whether asked by its ARN or by an instance that holds it.
    admin = any(w.admin_role and sim.estate.resources[w.rrn]["data"].get("iamInstanceProfile", {}).get("arn") == role
                for w in sim.estate.workloads)
    account = res["accountId"]
    policy = _ADMIN if admin else (f"arn:aws:iam::{account}:policy/{role.rsplit('/', 1)[-1]}-policy",
                                   f"{role.rsplit('/', 1)[-1]}-policy", "Customer Managed Policy")
    now = sim.clock.now_ms()
    used = rng.sample(_USED, k=rng.randint(4, 6))
    plan: list[tuple[str, str, int | None]] = [(a, k, now - rng.randrange(1, 60) * _DAY_MS) for a, k in used]
    plan += [(a, k, now - rng.randrange(120, 400) * _DAY_MS) for a, k in _STALE]
    plan += [(a, "*", None) for a in (_NEVER if admin else rng.sample(_NEVER, k=4))]
    source_type = "role" if res["kind"] == "aws_role" else "instance"
    region_name = REGIONS["aws"].get(res["regionId"], res["regionId"])
    records = []
    for action, kind, last_ms in sorted(plan):
        service, dest_id, dest_name = _destination(kind, res, role)
        service = service or action.split(":", 1)[0]
        records.append({
            "id": hashlib.sha256(f"{role}:{res['id']}:{action}".encode()).hexdigest()[:24],
            "sourceCloudType": "AWS", "sourceCloudAccount": account, "sourceCloudRegion": region_name,
            "sourceCloudServiceName": "iam" if source_type == "role" else "ec2",
            "sourceResourceType": source_type, "sourceResourceId": res["id"], "sourceResourceName": res["name"],
            "sourceCloudResourceRrn": res["rrn"], "sourcePublic": False,
            "grantedByCloudType": "AWS", "grantedByCloudEntityType": "role", "grantedByCloudEntityId": role,
            "grantedByCloudEntityName": role.rsplit("/", 1)[-1],
            "grantedByCloudPolicyId": policy[0], "grantedByCloudPolicyName": policy[1],
            "grantedByCloudPolicyType": policy[2],
            "destCloudType": "AWS", "destCloudAccount": account, "destCloudRegion": region_name,
            "destCloudServiceName": service, "destResourceId": dest_id, "destResourceName": dest_name,
            "destResourceType": "", "isWildCardDestCloudResourceName": dest_id == "*",
            "effectiveActionName": action, "lastAccessDate": _iso(last_ms) if last_ms is not None else "",
            "accessedResourcesCount": 1 if last_ms is not None else 0, "exceptions": [],
        })
    return records


def _page(sim: PrismaCloudSimulator, sid: str, offset: int, limit: int) -> dict[str, Any]:
    items = sim.snapshots[sid]["items"]
    page: dict[str, Any] = {"items": items[offset:offset + limit], "totalRows": len(items),
                            "searchedDestCloudResourceNames": []}
    if offset + limit < len(items):
        page["nextPageToken"] = encode_token({"snapshotId": sid, "offset": offset + limit, "limit": limit},
                                             sim.config.secret)
    return page


async def search_permissions(sim: PrismaCloudSimulator, request: Request, user: str) -> Response:
    body = await read_body(request)
    query, limit = body.get("query"), body.get("limit")
    if not query or not isinstance(limit, int) or isinstance(limit, bool):
        return cspm_error(400, "missing_required_parameter", "query" if not query else "limit")
    match = _ONE_IDENTITY.match(str(query))
    if match is None:  # [INFERRED] key; the simulator knows only queries for one identity
        return cspm_error(400, "invalid_rql_query", "only source.cloud.resource.id/name = '...' is simulated")
    items = identity_permissions(sim, match["field"].lower(), match["value"])
    sid = remember(sim, items, {})
    return json_answer({"id": user, "name": "", "description": "", "query": query, "saved": False,
                        "searchType": "iam", "timeRange": {"type": "to_now", "value": "epoch"},
                        "data": _page(sim, sid, 0, max(1, min(limit, 1000)))})


async def search_permissions_page(sim: PrismaCloudSimulator, request: Request, user: str) -> Response:
    body = await read_body(request)
    if not body.get("pageToken"):
        return cspm_error(400, "missing_required_parameter", "pageToken")
    doc, _ = recall(sim, str(body["pageToken"]))
    asked = body.get("limit")
    limit = asked if isinstance(asked, int) and not isinstance(asked, bool) else int(doc["limit"])
    return json_answer(_page(sim, str(doc["snapshotId"]), int(doc["offset"]), max(1, min(limit, 1000))))
