"""The analysis orchestrator: gate → cache → budget → LLM (redacted, grounded) → offline fallback.

The Kafka worker calls :meth:`Analyzer.should_analyse` and :meth:`Analyzer.analyse` per scored alert.

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

So an LLM outage never raises out of :meth:`analyse`. The one exception: with
``dead_letter_invalid_output=True`` the :class:`AnalysisFailedError` after a failed repair is raised
for the worker to dead-letter (the default is the labelled fallback, with
``prismaflow_llm_validation_failures_total`` counting each invalid answer).

The priority comes from the scoring tier and the approval path from the playbook rules, whichever
analyser wrote the text; the model only explains. Every analysis is redacted
(:func:`processors.redaction.redact_model`) before it is returned: the prompt never held a secret,
and neither does what ``prisma.analyses`` carries to tickets, chat and the SIEM.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
import unicodedata
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from connectors.base import (
    AuthenticationError,
    ConnectorError,
    RateLimitedError,
    TransientError,
)
from connectors.llm.client import Completion, LlmTimeoutError
from processors.analyze.cost import (
    AnalysisCache,
    AnalysisGate,
    TokenBucket,
    TokenBudget,
    cache_key,
    estimate_tokens,
    instantiate,
    templatise,
)
from processors.analyze.decide import approval_path_for, justification_for, priority_for
from processors.analyze.draft import LlmAnalysisDraft, map_draft_strings
from processors.analyze.errors import AnalysisFailedError, ModelRefusedError
from processors.analyze.facts import AlertFacts, build_facts, fence_json, redacted_data
from processors.analyze.grounding import GroundingReport, ground
from processors.analyze.llm import CompletionClient, LlmAnalyser
from processors.analyze.metrics import AnalyzerMetrics
from processors.analyze.offline import OfflineAnalyser
from processors.analyze.playbook import Playbook, PlaybookLibrary
from processors.analyze.redact import Redactor
from processors.analyze.registry import PromptRegistry, RenderedPrompt
from processors.analyze.retrieval import KnowledgeBase, Passage
from processors.analyze.settings import AnalyzerSettings
from processors.analysis_text import offline_label
from processors.models import Cloud, ScoredAlert
from processors.redaction import redact_model
from processors.records import (
    Analyser,
    Analysis,
    AnalysisOutcome,
    Evidence,
    RemediationStep,
)

__all__ = ["Analyzer", "AnalyzerStats"]

logger = logging.getLogger(__name__)


def _utcnow() -> datetime:
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)  # Avro timestamp-millis


@dataclass
class AnalyzerStats:
    """Running totals of one analyzer, for the evaluation harness and logs (metrics carry the same)."""

    analyses: int = 0
    llm_requests: int = 0
    cache_hits: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    validation_failures: int = 0
    grounding_removals: int = 0
    offline: Counter[str] = field(default_factory=Counter)


@dataclass
class _Prepared:
    scored: ScoredAlert
    facts: AlertFacts
    playbook: Playbook | None
    passages: list[Passage]
    redactor: Redactor
    rendered: RenderedPrompt
    approval: str
    justification: str


def _visible(text: str) -> str:
    return "".join(c for c in text if c in "\n\t" or unicodedata.category(c) not in ("Cc", "Cf", "Co", "Cs"))


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


class Analyzer:
    """Turns scored alerts into analyses; one per worker process.

    ``llm_client`` is the LLM seam (tests pass an :class:`~connectors.llm.client.LlmClient` over the
    simulator, or a fake); without one and with ``settings.llm`` set, a client is created from the
    settings and closed by :meth:`aclose`. Prompts, playbooks and the knowledge base default to the
    shipped ones, loaded (and the prompt lock verified) here, once.
    """

    def __init__(
        self,
        settings: AnalyzerSettings,
        *,
        llm_client: CompletionClient | None = None,
        prompts: PromptRegistry | None = None,
        playbooks: PlaybookLibrary | None = None,
        knowledge: KnowledgeBase | None = None,
        metrics: AnalyzerMetrics | None = None,
        now: Callable[[], datetime] = _utcnow,
        monotonic: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.prompt = (prompts or PromptRegistry.load()).get(settings.prompt_id, settings.prompt_version)
        self.playbooks = playbooks or PlaybookLibrary.load()
        self.knowledge = knowledge or KnowledgeBase.load()
        self.metrics = metrics or AnalyzerMetrics.default()
        self.gate = AnalysisGate(settings)
        self.cache = AnalysisCache(settings.cache_max_entries, settings.cache_ttl_s, clock=monotonic)
        self.bucket = TokenBucket(settings.rate_per_s, settings.rate_burst, clock=monotonic, sleep=sleep)
        self.budget = TokenBudget(settings.tokens_per_hour, settings.tokens_per_day, clock=wall_clock)
        self.stats = AnalyzerStats()
        self._semaphore = asyncio.Semaphore(settings.max_concurrency)
        self._offline = OfflineAnalyser()
        self._now = now
        self._llm: LlmAnalyser | None = None
        if settings.llm is not None:
            self._llm = LlmAnalyser(settings.llm, llm_client, on_completion=self._count_completion,
                                    on_invalid=self._count_invalid)

    async def aclose(self) -> None:
        """Close the LLM client if this analyzer created it."""
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
        prep = self._prepare(scored)
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
            note = Evidence(claim="Reused the grounded analysis of an alike finding (same policy and configuration"
                            " shape), re-grounded with this alert's identifiers", source="cache", reference=key[:16])
            return self._assemble(prep, report, Analyser.LLM, model=cached.model, extra=[note])
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

    def _prepare(self, scored: ScoredAlert) -> _Prepared:
        priority = priority_for(scored)
        facts = build_facts(scored, priority)
        alert = scored.alert
        playbook = self.playbooks.match(alert)
        passages: list[Passage] = []
        if self.settings.retrieval_k:
            query = " ".join([alert.policy_name, alert.policy_type, alert.resource.resource_type,
                              playbook.title if playbook else "", alert.description[:300]])
            passages = [s.passage for s in self.knowledge.search(
                query, k=self.settings.retrieval_k, min_score=self.settings.retrieval_min_score)]
        for ref in playbook.references if playbook else []:
            passage = self.knowledge.get(ref)
            if passage is not None and passage not in passages:
                passages.append(passage)
        subs = (alert.resource.account_id,) if alert.resource.cloud is Cloud.AZURE else ()
        redactor = Redactor(known_subscriptions=subs)
        rendered = self.prompt.render(
            alert_data=fence_json(redacted_data(facts, redactor)),
            passages=fence_json([{"id": p.id, "title": p.title, "heading": p.heading,
                                  "text": redactor.redact(p.text)} for p in passages]),
            priority=priority.value, tier=scored.tier.value, score=str(scored.score),
        )
        approval = approval_path_for(alert.enrichment.environment, playbook)
        return _Prepared(scored, facts, playbook, passages, redactor, rendered, approval,
                         justification_for(scored, priority))

    def _ground(self, draft: LlmAnalysisDraft, prep: _Prepared, analyser: Analyser) -> GroundingReport:
        # What an analysis says is what a reader sees: no zero-width, bidi or tag characters from
        # alert text (they hide instructions from people and from the checks alike).
        draft = map_draft_strings(draft, _visible)
        ids = {p.id for p in prep.passages}
        if prep.playbook is not None:
            ids.add(f"playbook:{prep.playbook.id}")
        report = ground(draft, prep.facts, passage_ids=ids, justification=prep.justification)
        if report.removed:
            self.metrics.grounding_removals.labels(analyser.value).inc(report.removed)
            self.stats.grounding_removals += report.removed
            logger.info("grounding removed claims alert_id=%s analyser=%s removed=%d core_grounded=%s",
                        prep.scored.alert.alert_id, analyser.value, report.removed, report.core_grounded)
        return report

    def _fallback(self, prep: _Prepared, reason: str) -> Analysis:
        self.metrics.offline_fallbacks.labels(reason).inc()
        self.stats.offline[reason] += 1
        draft = self._offline.draft(prep.facts, prep.playbook, prep.passages)
        report = self._ground(draft, prep, Analyser.OFFLINE)
        note = Evidence(claim=f"Written by the offline playbook analyser ({reason})", source="analyser", reference=reason)
        return self._assemble(prep, report, Analyser.OFFLINE, model="", extra=[note], offline_reason=reason)

    def _assemble(
        self,
        prep: _Prepared,
        report: GroundingReport,
        analyser: Analyser,
        *,
        model: str,
        extra: list[Evidence] | None = None,
        offline_reason: str = "",
    ) -> Analysis:
        draft, scored = report.draft, prep.scored
        summary = draft.summary or "No grounded summary could be written for this finding; see the evidence notes."
        if analyser is Analyser.OFFLINE:
            summary = f"{offline_label(offline_reason)} {summary}"
            pb = prep.playbook
            prompt_id, prompt_version = (f"offline:{pb.id}", str(pb.version)) if pb else ("offline", "0")
            canonical = json.dumps({"facts": prep.facts.data, "playbook": prompt_id, "version": prompt_version,
                                    "passages": [p.id for p in prep.passages]}, sort_keys=True, ensure_ascii=False)
            input_hash = hashlib.sha256(canonical.encode()).hexdigest()
        else:
            prompt_id, prompt_version, input_hash = self.prompt.id, self.prompt.version, prep.rendered.input_hash
        evidence = [Evidence(claim=e.claim, source=e.source, reference=e.reference) for e in draft.evidence]
        analysis = Analysis(
            alert_id=scored.alert.alert_id,
            incident_id=scored.incident_id,
            asset_id=scored.alert.resource.asset_id,
            summary=summary,
            business_impact=draft.business_impact,
            root_cause=draft.root_cause,
            priority=prep.facts.priority,
            priority_justification=draft.priority_justification or prep.justification,
            recommended_actions=list(draft.recommended_actions),
            remediation_steps=[RemediationStep(order=i, description=s.description, command=s.command,
                                               iac_snippet=s.iac_snippet)
                               for i, s in enumerate(draft.remediation_steps, start=1)],
            approval_path=prep.approval,
            confidence=report.confidence,
            evidence=evidence + report.notes + (extra or []),
            outcome=AnalysisOutcome.ANALYSED if report.core_grounded else AnalysisOutcome.INSUFFICIENT_EVIDENCE,
            analyser=analyser,
            model=model,
            prompt_id=prompt_id,
            prompt_version=prompt_version,
            input_hash=input_hash,
            created_at=self._now(),
        )
        # Every text field leaves for tickets, chat and the SIEM: no secret from the alert (an
        # offline template quotes its description, a model may echo one) survives into it.
        analysis = redact_model(analysis)
        logger.info("analysed alert_id=%s analyser=%s outcome=%s priority=%s confidence=%.2f steps=%d",
                    scored.alert.alert_id, analyser.value, analysis.outcome.value, analysis.priority.value,
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
