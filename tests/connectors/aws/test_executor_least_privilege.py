"""CIEM least privilege for real: the plan made from a role's permission records runs against moto,
and the role reads back with only the reduced inline policy, its managed policies detached."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from connectors.aws.executor import AwsExecutor
from processors.remediation.ciem_plan import plan_least_privilege
from processors.remediation.execution import ActionStatus
from processors.remediation.families import FamilyCatalog
from processors.remediation.least_privilege import PermissionRecord, reduce_to_used
from processors.remediation.plan import ActionKind
from tests.processors.remediation.ciem_support import AS_OF, ROLE, ciem_alert, record_items
from tests.processors.remediation.conftest import families  # noqa: F401 - shared fixture

TRUST = ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},'
         '"Action":"sts:AssumeRole"}]}')
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"


def test_the_reduced_policy_replaces_the_roles_grants_and_reads_back(
        executor: AwsExecutor, aws: Callable[..., Any], name: str, families: FamilyCatalog) -> None:  # noqa: F811
    iam = aws("iam")
    role_arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]

    def policy(suffix: str, action: str) -> str:
        document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]}
        arn: str = iam.create_policy(PolicyName=f"{name}-{suffix}", PolicyDocument=json.dumps(document))["Policy"]["Arn"]
        iam.attach_role_policy(RoleName=name, PolicyArn=arn)
        return arn

    # moto has no AWS-managed policies unless told to load them: an account's own admin policy stands in.
    admin_arn, logs_arn = policy("admin", "*"), policy("logs", "logs:*")
    # The fixture's records, for this role and its two policies.
    text = json.dumps(record_items()).replace(ROLE, role_arn).replace(ADMIN, admin_arn).replace(
        "arn:aws:iam::123456789012:policy/reporting-logs", logs_arn)
    records = tuple(PermissionRecord.model_validate(item) for item in json.loads(text))
    family = families.get("iam_least_privilege")
    assert family is not None
    plan = plan_least_privilege(ciem_alert(resource_id=role_arn, name=name).alert, family, records).plan
    assert plan is not None
    reduced = reduce_to_used(records, role_arn, as_of=AS_OF).document

    aws_actions = [a for a in plan.actions if a.kind is ActionKind.AWS_API]
    assert [a.operation for a in aws_actions] == ["PutRolePolicy", "DetachRolePolicy", "DetachRolePolicy"]
    dry = executor.run(aws_actions[0], index=0, dry_run=True, time_limit_s=60)
    assert dry.status is ActionStatus.DRY_RUN
    assert dry.output["current_state"]["PolicyDocument"] is None
    assert iam.list_role_policies(RoleName=name)["PolicyNames"] == []  # the dry run changed nothing
    for index, action in enumerate(aws_actions):
        outcome = executor.run(action, index=index, dry_run=False, time_limit_s=60)
        assert outcome.status is ActionStatus.OK, (outcome.error_class, outcome.error_message)

    policy_name = f"{name}-least-privilege"
    assert iam.list_role_policies(RoleName=name)["PolicyNames"] == [policy_name]
    assert iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"] == reduced
    assert iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"] == []
