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
from typing import Any, ClassVar

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from connectors.llm.settings import LlmSettings
from processors.analyze.analyzer import Analyzer
from processors.analyze.settings import AnalyzerSettings
from processors.errors import InvalidRecordError
from processors.models import RiskTier, ScoredAlert
from processors.records import Analyser, Analysis
from streams.audit import AuditWriter
from streams.publish import OutgoingRecord
from streams.settings import _Settings
from streams.sink import DeliveryFailure, SinkRecord
from streams.topics import ANALYSES, SCORED_ALERTS

__all__ = ["AnalysisStageSettings", "AnalysisSink"]

log = logging.getLogger(__name__)


class AnalysisStageSettings(_Settings):
    """The analysis stage: which alerts it explains, and the optional OpenAI-compatible endpoint."""

    model_config = SettingsConfigDict(env_prefix="PRISMAFLOW_LLM_", extra="forbid", env_ignore_empty=True)
    component: ClassVar[str] = "Analysis stage and LLM"

    base_url: str = Field(default="https://api.openai.com/v1", description="OpenAI-compatible endpoint (Azure, vLLM, Ollama: their /v1 URL)")
    model: str = Field(default="gpt-4o-mini", description="Model or deployment name")
    api_key: SecretStr | None = Field(default=None, description="API key (secret); unset: offline analyser only")
    timeout_s: float = Field(default=60.0, gt=0, description="Per request")
    max_retries: int = Field(default=2, ge=0, le=10, description="The SDK's own retries (429/5xx/timeouts); no others stack on them")
    min_tier: RiskTier = Field(default=RiskTier.MEDIUM, description="Alerts from this tier up get an analysis")
    llm_min_tier: RiskTier = Field(default=RiskTier.CRITICAL, description="Of those, from this tier up the LLM writes it (others: offline)")
    llm_min_score: int = Field(default=95, ge=0, le=100, description="...and from this score up (95: the top of the CRITICAL band 80-100, keeping the LLM within ~10 calls per 1,000 raw alerts)")
    tokens_per_hour: int = Field(default=250_000, ge=0, description="LLM token budget per hour; beyond it: offline")
    tokens_per_day: int = Field(default=2_000_000, ge=0, description="LLM token budget per day")
    max_concurrency: int = Field(default=4, ge=1, description="LLM calls in flight at once")

    def analyzer_settings(self) -> AnalyzerSettings:
        llm = None
        if self.api_key is not None:
            llm = LlmSettings(base_url=self.base_url, model=self.model, api_key=self.api_key,
                              timeout_s=self.timeout_s, max_retries=self.max_retries)
        return AnalyzerSettings(llm=llm, min_tier=self.min_tier, llm_min_tier=self.llm_min_tier,
                                llm_min_score=self.llm_min_score,
                                tokens_per_hour=self.tokens_per_hour, tokens_per_day=self.tokens_per_day,
                                max_concurrency=self.max_concurrency)


class AnalysisSink:
    """A :class:`streams.sink.Sink` whose far side is the analyser; its output goes back to Kafka."""

    name = "analyse"

    def __init__(self, analyzer: Analyzer, *, topic_prefix: str = "", audit: AuditWriter | None = None) -> None:
        self.analyzer = analyzer
        self.audit = audit
        self.input_topic = topic_prefix + SCORED_ALERTS.name
        self.output_topic = topic_prefix + ANALYSES.name
        self.topics: Sequence[str] = (self.input_topic,)
        self.models: dict[str, type[BaseModel]] = {self.input_topic: ScoredAlert}

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        await self.analyzer.aclose()

    async def deliver(self, records: Sequence[SinkRecord[Any]]) -> tuple[list[DeliveryFailure], list[OutgoingRecord]]:
        wanted = [r for r in records if self.analyzer.should_analyse(r.value)]
        results = await asyncio.gather(*(self.analyzer.analyse(r.value) for r in wanted), return_exceptions=True)
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
