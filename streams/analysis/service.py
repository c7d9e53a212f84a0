"""The analysis service: gate → cache → budget → LLM (redacted, grounded) → offline fallback.

The analysis worker (:class:`~streams.analysis.sink.AnalysisSink`) calls
:meth:`AnalysisService.should_analyse` and :meth:`AnalysisService.analyse` per scored alert. This is
the orchestration: clocks, the cache, the token budget, the rate limit and concurrency, the LLM call
through the completion port, metrics and the fallback; what an analysis *says* is composed by the
pure code of :mod:`processors.analyze` (:mod:`~processors.analyze.compose`).

Fallback rules (every fallback is labelled: ``analyser=OFFLINE``, the summary starts with
``[Offline analysis: <reason>]``, an ``Evidence(source="analyser")`` names the reason, and
``prismaflow_llm_offline_fallbacks_total{reason}`` counts it):

=====================  ===============================================================
not_configured         no LLM endpoint in the settings
below_threshold        analyse() called for an alert the stage gate would skip
below_llm_threshold    analysed, but not important enough to spend tokens on
budget_exhausted       the hourly or daily token budget is spent (+ budget metric)
rate_limited           our call-rate limit would make the alert wait too long
llm_rate_limited       the endpoint kept answering 429 after the SDK's retries
llm_timeout            timeouts after the SDK's retries, or the overall deadline
llm_unavailable        connection errors / 5xx after the SDK's retries
llm_error              auth, bad request, unknown model, malformed response
refused                the model refused (``message.refusal``)
invalid_output         invalid JSON or schema twice (first try and repair)
=====================  ===============================================================

So an LLM outage never raises out of :meth:`AnalysisService.analyse`. The one exception: with
``dead_letter_invalid_output=True`` the :class:`AnalysisFailedError` after a failed repair is raised
for the worker to dead-letter (the default is the labelled fallback, with
``prismaflow_llm_validation_failures_total`` counting each invalid answer).

The priority comes from the scoring tier and the approval path from the playbook rules, whichever
analyser wrote the text; the model only explains. Every analysis is redacted
(:func:`processors.redaction.redact_model`, in :func:`~processors.analyze.compose.assemble`) before it is returned: the prompt never held a secret,
and neither does what ``prisma.analyses`` carries to tickets, chat and the SIEM.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from connectors.base import AuthenticationError, ConnectorError, RateLimitedError, TransientError
from connectors.llm.client import LlmTimeoutError
from processors.analyze.compose import (
    PreparedAlert,
    assemble,
    cache_note,
    ground_draft,
    offline_draft,
    offline_note,
    prepare,
)
from processors.analyze.cost import cache_key, estimate_tokens, instantiate, templatise
from processors.analyze.draft import LlmAnalysisDraft, map_draft_strings
from processors.analyze.errors import AnalysisFailedError, ModelRefusedError
from processors.analyze.evaluate import Usage
from processors.analyze.grounding import GroundingReport
from processors.analyze.playbook import PlaybookLibrary
from processors.analyze.port import Completion, CompletionClient
from processors.analyze.registry import PromptRegistry
from processors.analyze.retrieval import KnowledgeBase
from processors.models import ScoredAlert
from processors.records import Analyser, Analysis, Evidence
from streams.analysis.budget import AnalysisCache, AnalysisGate, TokenBucket, TokenBudget
from streams.analysis.inputs import load_knowledge_base, load_playbooks, load_prompt_registry
from streams.analysis.llm_call import LlmAnalyser
from streams.analysis.metrics import AnalysisMetrics
from streams.analysis.settings import AnalysisSettings

__all__ = ["AnalysisService", "AnalysisStats"]

logger = logging.getLogger(__name__)


def _utcnow() -> datetime:
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)  # Avro timestamp-millis


@dataclass
class AnalysisStats:
    """Running totals of one service, for the evaluation harness and logs (metrics carry the same)."""

    analyses: int = 0
    llm_requests: int = 0
    cache_hits: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    validation_failures: int = 0
    grounding_removals: int = 0
    offline: Counter[str] = field(default_factory=Counter)

    def usage_since(self, before: AnalysisStats) -> Usage:
        """What was used between the snapshot ``before`` (:meth:`snapshot`) and now."""
        return Usage(
            llm_requests=self.llm_requests - before.llm_requests,
            validation_failures=self.validation_failures - before.validation_failures,
            cache_hits=self.cache_hits - before.cache_hits,
            tokens=(self.input_tokens + self.output_tokens) - (before.input_tokens + before.output_tokens),
            cost_usd=self.cost_usd - before.cost_usd,
            offline_fallbacks=dict(self.offline - before.offline),
        )

    def snapshot(self) -> AnalysisStats:
        """A copy of the totals as they are now."""
        return AnalysisStats(**{**vars(self), "offline": Counter(self.offline)})


def _failure_reason(exc: ConnectorError) -> str:
    if isinstance(exc, RateLimitedError):
        return "llm_rate_limited"
    if isinstance(exc, LlmTimeoutError):
        return "llm_timeout"
    if isinstance(exc, TransientError):
        return "llm_unavailable"
    if isinstance(exc, AuthenticationError):
        return "llm_error"
    return "llm_error"


class AnalysisService:
    """Turns scored alerts into analyses; one per analysis worker process.

    ``llm_client`` is the completion port (tests pass an :class:`~connectors.llm.client.LlmClient`
    over the simulator, or a fake); without one and with ``settings.llm`` set, a client is created
    from the settings and closed by :meth:`aclose`. Prompts, playbooks and the knowledge base default
    to the shipped ones, read (and the prompt lock verified) here, once. ``now``, ``monotonic``,
    ``wall_clock`` and ``sleep`` are the clocks and the sleep; tests pass fakes.
    """

    def __init__(
        self,
        settings: AnalysisSettings,
        *,
        llm_client: CompletionClient | None = None,
        prompts: PromptRegistry | None = None,
        playbooks: PlaybookLibrary | None = None,
        knowledge: KnowledgeBase | None = None,
        metrics: AnalysisMetrics | None = None,
        now: Callable[[], datetime] = _utcnow,
        monotonic: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.prompt = (prompts or load_prompt_registry()).get(settings.prompt_id, settings.prompt_version)
        self.playbooks = playbooks or load_playbooks()
        self.knowledge = knowledge or load_knowledge_base()
        self.metrics = metrics or AnalysisMetrics.default()
        self.gate = AnalysisGate(settings)
        self.cache = AnalysisCache(settings.cache_max_entries, settings.cache_ttl_s, clock=monotonic)
        self.bucket = TokenBucket(settings.rate_per_s, settings.rate_burst, clock=monotonic, sleep=sleep)
        self.budget = TokenBudget(settings.tokens_per_hour, settings.tokens_per_day, clock=wall_clock)
        self.stats = AnalysisStats()
        self._semaphore = asyncio.Semaphore(settings.max_concurrency)
        self._now = now
        self._llm: LlmAnalyser | None = None
        if settings.llm is not None:
            self._llm = LlmAnalyser(settings.llm, llm_client, on_completion=self._count_completion,
                                    on_invalid=self._count_invalid)

    async def aclose(self) -> None:
        """Close the LLM client if this service created it."""
        if self._llm is not None:
            await self._llm.aclose()

    # -- public API ------------------------------------------------------------------------------

    def should_analyse(self, scored: ScoredAlert) -> bool:
        """True when the stage gate lets ``scored`` through (status, tier, score); cheap, no I/O."""
        return self.gate.should_analyse(scored)

    async def analyse(self, scored: ScoredAlert) -> Analysis:
        """The analysis of ``scored``: by the LLM when allowed and working, else offline (labelled).

        Raises only :class:`AnalysisFailedError`, and only with ``dead_letter_invalid_output``.
        """
        self.stats.analyses += 1
        prep = prepare(scored, self.prompt, self.playbooks, self.knowledge,
                       retrieval_k=self.settings.retrieval_k, retrieval_min_score=self.settings.retrieval_min_score)
        if self._llm is None or self.settings.llm is None:
            return self._fallback(prep, "not_configured")
        if not self.gate.should_analyse(scored):
            return self._fallback(prep, "below_threshold")
        if not self.gate.llm_allowed(scored):
            return self._fallback(prep, "below_llm_threshold")
        model = self.settings.llm.model
        key = cache_key(self.prompt.id, self.prompt.version, model, prep.facts)
        cached = self.cache.get(key)
        if cached is not None:
            self.metrics.cache_hits.inc()
            self.stats.cache_hits += 1
            report = self._ground(instantiate(cached.draft, prep.facts), prep, Analyser.LLM)
            return self._assemble(prep, report, Analyser.LLM, model=cached.model, extra=[cache_note(key)])
        estimate = estimate_tokens(prep.rendered.messages, self.settings.llm.max_output_tokens)
        if not self.budget.reserve(estimate):
            self.metrics.budget_exhausted.inc()
            return self._fallback(prep, "budget_exhausted")
        if not await self.bucket.acquire(self.settings.rate_max_wait_s):
            self.budget.settle(estimate, 0)
            return self._fallback(prep, "rate_limited")
        used: list[Completion] = []
        invalid_before = self.stats.validation_failures
        started = time.perf_counter()
        try:
            async with self._semaphore:
                result = await self._llm.draft(self.prompt, prep.rendered, on_completion=used.append)
        except ModelRefusedError:
            self.metrics.calls.labels("refused").inc()
            self._count_invalid_calls(invalid_before)
            return self._fallback(prep, "refused")
        except AnalysisFailedError:
            self._count_invalid_calls(invalid_before)
            if self.settings.dead_letter_invalid_output:
                raise
            return self._fallback(prep, "invalid_output")
        except ConnectorError as exc:
            reason = _failure_reason(exc)
            self.metrics.calls.labels(reason.removeprefix("llm_")).inc()
            self.metrics.latency.observe(time.perf_counter() - started)
            self._count_invalid_calls(invalid_before)
            logger.warning("llm unavailable, answering offline alert_id=%s reason=%s error=%s",
                           scored.alert.alert_id, reason, type(exc).__name__)
            return self._fallback(prep, reason)
        finally:
            self.budget.settle(estimate, sum(c.input_tokens + c.output_tokens for c in used))
        self.metrics.calls.labels("ok").inc()
        self._count_invalid_calls(invalid_before)
        restored = map_draft_strings(result.draft, prep.redactor.restore)
        report = self._ground(restored, prep, Analyser.LLM)
        if report.core_grounded:
            self.cache.put(key, templatise(report.draft, prep.facts), model=result.model,
                           prompt_id=self.prompt.id, prompt_version=self.prompt.version)
        return self._assemble(prep, report, Analyser.LLM, model=result.model)

    # -- steps -----------------------------------------------------------------------------------

    def _ground(self, draft: LlmAnalysisDraft, prep: PreparedAlert, analyser: Analyser) -> GroundingReport:
        report = ground_draft(draft, prep)
        if report.removed:
            self.metrics.grounding_removals.labels(analyser.value).inc(report.removed)
            self.stats.grounding_removals += report.removed
            logger.info("grounding removed claims alert_id=%s analyser=%s removed=%d core_grounded=%s",
                        prep.scored.alert.alert_id, analyser.value, report.removed, report.core_grounded)
        return report

    def _fallback(self, prep: PreparedAlert, reason: str) -> Analysis:
        self.metrics.offline_fallbacks.labels(reason).inc()
        self.stats.offline[reason] += 1
        report = self._ground(offline_draft(prep), prep, Analyser.OFFLINE)
        return self._assemble(prep, report, Analyser.OFFLINE, model="", extra=[offline_note(reason)],
                              offline_reason=reason)

    def _assemble(self, prep: PreparedAlert, report: GroundingReport, analyser: Analyser, *, model: str,
                  extra: list[Evidence] | None = None, offline_reason: str = "") -> Analysis:
        analysis = assemble(prep, report, analyser, prompt=self.prompt, model=model, created_at=self._now(),
                            extra=extra, offline_reason=offline_reason)
        logger.info("analysed alert_id=%s analyser=%s outcome=%s priority=%s confidence=%.2f steps=%d",
                    prep.scored.alert.alert_id, analyser.value, analysis.outcome.value, analysis.priority.value,
                    analysis.confidence, len(analysis.remediation_steps))
        return analysis

    # -- accounting ------------------------------------------------------------------------------

    def _count_completion(self, completion: Completion) -> None:
        assert self.settings.llm is not None
        self.stats.llm_requests += 1
        self.stats.input_tokens += completion.input_tokens
        self.stats.output_tokens += completion.output_tokens
        cost = self.settings.llm.cost_usd(completion.input_tokens, completion.output_tokens)
        self.stats.cost_usd += cost
        self.metrics.tokens.labels("input").inc(completion.input_tokens)
        self.metrics.tokens.labels("output").inc(completion.output_tokens)
        self.metrics.cost.inc(cost)
        self.metrics.latency.observe(completion.elapsed_s)

    def _count_invalid(self, error: str) -> None:
        self.stats.validation_failures += 1
        self.metrics.validation_failures.inc()

    def _count_invalid_calls(self, before: int) -> None:
        invalid = self.stats.validation_failures - before
        if invalid > 0:
            self.metrics.calls.labels("invalid_output").inc(invalid)
