"""Fixtures of the remediation stage tests: the request stage run over a test's own catalogue."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from connectors.aws.service_models import BotocoreServiceCatalog
from processors.remediation.approval import ApprovalRules
from processors.remediation.families import FamilyCatalog
from processors.remediation.modes import RolloutPolicy
from processors.remediation.propose import ValidationPorts
from streams.remediation.request_stage import RemediationRequestStage
from streams.serde import AvroSerde
from streams.settings import KafkaSettings
from tests.processors.remediation.conftest import (  # noqa: F401 - shared fixtures
    MemoisingChecker,
    catalog,
    families,
    terraform,
)
from tests.streams.remediation.flow_parts import run_stage, signed_audit_writer


@pytest.fixture
def run_request_stage(
        kafka: KafkaSettings, serde: AvroSerde, catalogue: str, unique_name: Callable[[str], str],
        families: FamilyCatalog, catalog: BotocoreServiceCatalog, terraform: MemoisingChecker,  # noqa: F811
) -> Callable[..., None]:
    """Runs the request stage over the catalogue's scored alerts under a rollout policy until its
    input is idle, with the test families, the validation ports and its own signed audit chain;
    ``wiring`` adds the announcer or the analyses lookup."""

    def run(policy: RolloutPolicy, **wiring: Any) -> None:
        run_stage(kafka, serde, RemediationRequestStage(
            families=families, ports=ValidationPorts(catalog, terraform), policy=policy, rules=ApprovalRules(),
            audit=signed_audit_writer(kafka, serde, catalogue, "remediation-requests"), topic_prefix=catalogue,
            **wiring), group=unique_name("req"), catalogue=catalogue)

    return run
