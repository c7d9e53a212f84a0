"""CIEM on the real broker: a CIEM alert on an instance with an administrative role becomes a validated
least-privilege request on prisma.remediations, the role's permission records fetched from the Prisma
simulator's IAM permission search through the stage's PermissionSearch port; a search that fails is
audited and leaves its alert without a request."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import httpx
import pytest
import yaml
from pydantic import SecretStr

from connectors.aws.iam_lint import ParliamentLinter
from connectors.base import RetriesExhaustedError, TransientError
from connectors.aws.service_models import BotocoreServiceCatalog
from connectors.prisma.cspm_client import CspmClient
from connectors.prisma.permissions import PrismaPermissionSearch
from connectors.prisma.settings import PrismaSettings
from connectors.prisma.simulator import PrismaCloudSimulator, SimClock, generate_estate
from connectors.prisma.simulator.cspm_permissions import identity_permissions
from processors.records import AuditRecord, RemediationRequest
from processors.remediation.approval import ApprovalRules
from processors.remediation.families import FamilyCatalog
from processors.remediation.least_privilege import PermissionRecord
from processors.remediation.modes import parse_policy
from processors.remediation.propose import ValidationPorts
from streams.audit import AuditWriter
from streams.remediation.request_stage import RemediationRequestStage
from streams.serde import AvroSerde
from streams.settings import KafkaSettings
from streams.topics import AUDIT, REMEDIATIONS, SCORED_ALERTS
from tests.audit_keys import TEST_SIGNER
from tests.kafka_helpers import produce_models, read_topic
from tests.processors.remediation.ciem_support import ADMIN_INSTANCE_POLICY, AS_OF, ciem_alert
from tests.processors.remediation.conftest import (  # noqa: F401 - shared fixtures
    MemoisingChecker,
    catalog,
    families,
    linter,
    terraform,
)
from tests.streams.remediation.flow_parts import channels, run_stage

pytestmark = [pytest.mark.broker, pytest.mark.slow]

ASSIST = parse_policy(yaml.safe_load("default: assist"))
API = "https://api.prismacloud.io"
UNREACHABLE = "arn:aws:iam::123456789012:role/unreachable"


class FailingFor:
    """The real search, except that Prisma stays unavailable for one identity."""

    def __init__(self, inner: PrismaPermissionSearch, identity: str) -> None:
        self.inner, self.identity = inner, identity

    async def permissions_of(self, identity_id: str) -> Sequence[PermissionRecord]:
        if identity_id == self.identity:
            raise RetriesExhaustedError("gave up", last_error=TransientError("503", status_code=503), attempts=4)
        return await self.inner.permissions_of(identity_id)


def test_a_ciem_alert_becomes_a_linted_least_privilege_request_for_two_approvers(
        kafka: KafkaSettings, serde: AvroSerde, catalogue: str, unique_name: Callable[[str], str],
        families: FamilyCatalog, catalog: BotocoreServiceCatalog, terraform: MemoisingChecker,  # noqa: F811
        linter: ParliamentLinter) -> None:  # noqa: F811
    clock = SimClock(base=lambda: AS_OF.timestamp())
    sim = PrismaCloudSimulator(generate_estate(7, 60, now_ms=clock.now_ms()), clock=clock)
    found = next(a for _, a in sorted(sim.alerts.items()) if a["policy"]["name"] == ADMIN_INSTANCE_POLICY)
    instance, account, role = found["resource"]["id"], found["resource"]["accountId"], found["metadata"]["roleArn"]
    scored = ciem_alert(on_instance=True, resource_id=instance, account_id=account, alert_id="I-880001",
                        config={"instanceId": instance, "iamInstanceProfile": {"arn": role}})
    unreachable = ciem_alert(resource_id=UNREACHABLE, alert_id="I-880002")
    produce_models(kafka, serde, catalogue + SCORED_ALERTS.name,
                   [(a.alert.resource.asset_id, a) for a in (scored, unreachable)])

    settings = PrismaSettings(api_url=API, username="sim-access-key", password=SecretStr("sim-secret-key"),
                              compute_url="https://console.compute.sim")
    cspm = CspmClient(settings, client=httpx.AsyncClient(transport=httpx.ASGITransport(app=sim)))
    parts = channels()
    audit = AuditWriter(f"{catalogue}remediation-requests/0", kafka, serde, topic=catalogue + AUDIT.name,
                        signer=TEST_SIGNER)
    audit.start()
    run_stage(kafka, serde, RemediationRequestStage(
        families=families, ports=ValidationPorts(catalog, terraform, linter), policy=ASSIST, rules=ApprovalRules(),
        audit=audit, announcer=parts.announcer, topic_prefix=catalogue,
        permissions=FailingFor(PrismaPermissionSearch(cspm, page_size=10), UNREACHABLE)),
        group=unique_name("req"), catalogue=catalogue)

    [message] = read_topic(kafka, catalogue + REMEDIATIONS.name, expect=1)
    request = serde.decode(message.value() or b"", RemediationRequest, topic=catalogue + REMEDIATIONS.name)
    plan = request.plan()
    assert plan is not None and plan.policy_family == "iam_least_privilege"
    assert request.alert_id == "I-880001" and request.target_resource == role
    assert request.touches_iam and request.required_approvals == 2  # IAM in production: two approvers
    put, detach = (a for a in plan.actions if a.service == "iam")
    assert (put.operation, put.parameters["RoleName"]) == ("PutRolePolicy", role.rsplit("/", 1)[-1])
    assert detach.parameters["PolicyArn"] == "arn:aws:iam::aws:policy/AdministratorAccess"
    # The policy holds exactly what the simulator says the role used in the last 90 days.
    used = {r["effectiveActionName"] for r in identity_permissions(sim, "id", instance) if r["lastAccessDate"]
            and r["lastAccessDate"] >= "2026-09-01"}
    granted = {a for s in json.loads(put.parameters["PolicyDocument"])["Statement"] for a in s["Action"]}
    assert granted == used
    ticket = parts.ticket(request.request_id)
    assert ticket is not None and ticket[1] == "Pending Approval"

    records = [serde.decode(m.value() or b"", AuditRecord, topic=catalogue + AUDIT.name)
               for m in read_topic(kafka, catalogue + AUDIT.name, settle_s=0.5, timeout_s=20)]
    actions = [r.action for r in records if r.alert_id == "I-880001"]
    assert actions[:3] == ["remediation_planned", "remediation_mode", "remediation_request_created"]
    planned = json.loads(next(r for r in records if r.alert_id == "I-880001").details_json)
    assert planned["policy_family"] == "iam_least_privilege" and planned["source"] == "planner"
    # A search that failed is on the ledger, and that alert got no plan and no request.
    failed = [r for r in records if r.alert_id == "I-880002"]
    assert [r.action for r in failed] == ["remediation_permission_search_failed", "remediation_no_plan"]
    assert json.loads(failed[0].details_json) == {"error": "RetriesExhaustedError", "status": 503}
    assert "permission search was not available" in failed[1].details_json
