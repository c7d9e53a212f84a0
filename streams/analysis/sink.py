"""The analysis stage as its own worker: ``prisma.alerts.scored`` → ``prisma.analyses``.

It runs in its own consumer group and process (``prismaflow run analyse``), so it scales apart from
the stream core and an LLM outage never stalls scoring: the core keeps producing scored alerts while
this stage falls back to the offline analyser, labelled, and says so in its metrics. Each analysis
is also an AuditRecord (actor: the model or the offline analyser; prompt version, model and input
hash), written before the consumed offsets are committed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from processors.errors import InvalidRecordError
from processors.models import ScoredAlert
from processors.records import Analyser, Analysis
from streams.analysis.service import AnalysisService
from streams.audit import AuditWriter
from streams.publish import OutgoingRecord
from streams.sink import DeliveryFailure, SinkRecord
from streams.topics import ANALYSES, SCORED_ALERTS

__all__ = ["AnalysisSink"]

log = logging.getLogger(__name__)


class AnalysisSink:
    """A :class:`streams.sink.Sink` whose far side is the analysis service; its output goes back to Kafka."""

    name = "analyse"

    def __init__(self, service: AnalysisService, *, topic_prefix: str = "", audit: AuditWriter | None = None) -> None:
        self.service = service
        self.audit = audit
        self.input_topic = topic_prefix + SCORED_ALERTS.name
        self.output_topic = topic_prefix + ANALYSES.name
        self.topics: Sequence[str] = (self.input_topic,)
        self.models: dict[str, type[BaseModel]] = {self.input_topic: ScoredAlert}

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        await self.service.aclose()

    def discard_uncommitted(self) -> None:
        """A delivery failed and its outputs are dropped: the audit chain goes on from the topic's last record."""
        if self.audit is not None:
            self.audit.discard_unwritten()

    async def deliver(self, records: Sequence[SinkRecord[Any]]) -> tuple[list[DeliveryFailure], list[OutgoingRecord]]:
        wanted = [r for r in records if self.service.should_analyse(r.value)]
        results = await asyncio.gather(*(self.service.analyse(r.value) for r in wanted), return_exceptions=True)
        failures: list[DeliveryFailure] = []
        outputs: list[OutgoingRecord] = []
        for record, result in zip(wanted, results):
            if isinstance(result, InvalidRecordError):
                failures.append(DeliveryFailure(record, result))
                continue
            if isinstance(result, BaseException):
                raise result  # a bug or an outage the analyser did not absorb: retry the batch
            scored: ScoredAlert = record.value
            outputs.append(OutgoingRecord(self.output_topic, scored.alert.resource.asset_id, result))
            if self.audit is not None:
                outputs.append(self._audit(result))
        log.info("analysed count=%d skipped=%d failed=%d", len(outputs), len(records) - len(wanted), len(failures))
        return failures, outputs

    def _audit(self, analysis: Analysis) -> OutgoingRecord:
        assert self.audit is not None
        by_model = analysis.analyser is Analyser.LLM
        return self.audit.record(
            "model" if by_model else "system", analysis.model if by_model else "offline-analyser", "analysed",
            alert_id=analysis.alert_id, incident_id=analysis.incident_id, prompt_version=
            f"{analysis.prompt_id}@{analysis.prompt_version}" if analysis.prompt_id else None,
            model=analysis.model or None, input_hash=analysis.input_hash, outcome=analysis.outcome.value,
            details={"priority": analysis.priority.value, "confidence": analysis.confidence,
                     "steps": len(analysis.remediation_steps)})
