"""On the real broker: a rollout policy change is audited with old and new (once per change), and
``prismaflow report shadow`` reads the scored and remediation topics."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from processors.models import Environment
from processors.records import RolloutMode
from processors.remediation.approval import ApprovalRules, new_request
from tests.audit_keys import TEST_KEYRING, TEST_SIGNER
from streams.audit import read_chains, verify_audit
from streams.config import PrismaflowSettings
from streams.config.stages import WorkerSettings
from streams.remediation.policy import POLICY_CHAIN, POLICY_CHANGED, audit_policy_change, load_rollout_policy
from streams.remediation.settings import RemediationSettings
from streams.remediation.shadow import run_shadow_report
from streams.serde import AvroSerde
from streams.settings import KafkaSettings
from streams.topics import AUDIT, REMEDIATIONS, SCORED_ALERTS
from tests.factories import make_alert, make_enrichment, make_scored_alert
from tests.kafka_helpers import produce, produce_models
from tests.processors.remediation.test_shadow import _plan

pytestmark = [pytest.mark.broker]


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_a_policy_change_is_audited_once_with_old_and_new(kafka: KafkaSettings, serde: AvroSerde, catalogue: str,
                                                          tmp_path: Path) -> None:
    topic = catalogue + AUDIT.name
    path = _write(tmp_path / "rollout.yaml", "default: monitor\n")

    def audit_once() -> bool:
        record = audit_policy_change(load_rollout_policy(path), path, kafka, serde, topic=topic, signer=TEST_SIGNER)
        if record is not None:
            assert record.value is not None
            produce(kafka, topic, [((record.key or "").encode(), serde.encode(record.value, topic=topic))])
        return record is not None

    assert audit_once()  # the first policy seen
    assert not audit_once()  # unchanged
    _write(path, "# reformatted\ndefault: monitor\nrules: []\n")
    assert not audit_once()  # same policy, other layout
    _write(path, "default: assist\nrules:\n  - environment: dev\n    mode: auto\n")
    assert audit_once()
    chain = next(records for (_, name), records in read_chains(kafka, serde, topic).items() if name == POLICY_CHAIN)
    assert [r.action for r in chain] == [POLICY_CHANGED, POLICY_CHANGED]
    details = json.loads(chain[-1].details_json)
    assert (details["old"]["default"], details["new"]["default"]) == ("monitor", "assist")
    assert details["rules_added"] == [{"account": None, "account_group": None, "environment": "dev", "mode": "auto"}]
    assert all(report.report.ok for report in verify_audit(kafka, serde, topic, keyring=TEST_KEYRING))


def test_the_shadow_report_command_reads_the_topics(kafka: KafkaSettings, serde: AvroSerde, catalogue: str,
                                                    tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scored = [make_scored_alert(alert=make_alert(alert_id=f"P-{i}", enrichment=make_enrichment(environment=Environment.DEV)))
              for i in (1, 2)]
    produce_models(kafka, serde, catalogue + SCORED_ALERTS.name, [(s.alert.resource.asset_id, s) for s in scored])
    request = new_request(_plan("P-1"), mode=RolloutMode.MONITOR, requested_at=scored[0].scored_at,
                          rules=ApprovalRules())
    produce_models(kafka, serde, catalogue + REMEDIATIONS.name, [(request.request_id, request)])
    policy = _write(tmp_path / "rollout.yaml", "default: monitor\nauto_allowlist: [s3_public_access]\n")
    settings = PrismaflowSettings(kafka=kafka, worker=WorkerSettings(topic_prefix=catalogue),
                                  remediation=RemediationSettings(rollout_policy_file=policy))
    args = argparse.Namespace(report="shadow", since=None, until=None, json=True)
    assert run_shadow_report(args, settings) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["configured"]["tickets"] == 0 and report["configured"]["approval_requests"] == 0
    assert report["looser"]["tickets"] == 2 and report["looser"]["examples"]["approval_requests"] == ["P-1"]
