"""The stages of the stream core, adapting the pure processors to Kafka records.

Two topologies run the same processors:

- fused (the default, one hop): :class:`CoreStage` (:mod:`streams.core_stage`),
  ``prisma.alerts.raw`` → ``prisma.alerts.scored``. The sources key raw alerts by canonical asset id
  (:func:`processors.pipeline.raw_alert_key`), so the raw topic is already partitioned by asset and
  one stage normalises, enriches, dedupes, correlates (with the asset graph across partitions) and
  scores. A record keyed otherwise (another producer) is sent back to the raw topic under its
  asset's key, in the same transaction, and processed when it arrives there.
- split (two hops): :class:`NormaliseEnrichStage` (stateless) ``prisma.alerts.raw`` →
  ``prisma.alerts``, re-keyed by asset, then :class:`ScoreStage` ``prisma.alerts`` →
  ``prisma.alerts.scored``. For raw topics that other producers key by alert id, and for scaling the
  stateless step on its own; it also publishes the enriched alerts on ``prisma.alerts``. It
  correlates per asset only: the asset graph is the fused core's.

The stateful part of the split topology (:class:`ScoreStage`) keeps per input partition
the dedupe entries of its alerts, the correlation state of its assets and the dismissal history in
the scoring state store (:mod:`streams.scoring_state`); every change is written to
``prisma.score.changelog`` (same partition) in the worker's transaction and read back when the
partition is assigned.

All run inside :class:`streams.worker.TransactionalWorker`; a record that raises is dead-lettered.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from processors.enrich import EnrichmentContext
from processors.models import Alert, RawAlert
from processors.pipeline import StageStates, normalise_and_enrich, process_for_asset
from processors.records import ScoringState
from processors.score import DismissalHistory, ScoringPolicy
from streams import metrics
from streams.core_stage import CoreStage, is_link
from streams.scoring_state import ASSETS, DEDUPE, HISTORY, scoring_store
from streams.publish import OutgoingRecord
from streams.serde import AvroSerde
from streams.stage import InputMessage
from streams.state_store import StateStore
from streams.topics import ALERTS, RAW_ALERTS, SCORE_CHANGELOG, SCORED_ALERTS

__all__ = ["CoreStage", "NormaliseEnrichStage", "ScoreStage"]

log = logging.getLogger(__name__)

_EMPTY_HISTORY = DismissalHistory()


class NormaliseEnrichStage:
    """Stateless: raw alert in, normalised and enriched alert out, keyed by asset id."""

    name = "normalise_enrich"
    input_model = RawAlert
    state: StateStore | None = None

    def __init__(self, context: EnrichmentContext, serde: AvroSerde, *,
                 input_topic: str = RAW_ALERTS.name, output_topic: str = ALERTS.name) -> None:
        self.context = context
        self.input_topic = input_topic
        self.output_topic = output_topic
        self._decode_raw = serde.deserializer(RawAlert, input_topic)

    def decode(self, message: InputMessage) -> RawAlert | None:
        """A raw alert; None for the fused core's asset-graph messages (not alerts, nothing to do)."""
        assert message.value is not None
        return None if is_link(message.headers) else self._decode_raw(message.value)

    def handle(self, record: RawAlert | None, message: InputMessage) -> Sequence[OutgoingRecord]:
        if record is None:
            return []
        alert = normalise_and_enrich(record, self.context)
        return [OutgoingRecord(self.output_topic, alert.resource.asset_id, alert)]


class ScoreStage:
    """Stateful: dedupe, correlate and score per asset, with a changelog for recovery."""

    name = "score"
    input_model = Alert

    def __init__(self, policy: ScoringPolicy, serde: AvroSerde, *, input_topic: str = ALERTS.name,
                 output_topic: str = SCORED_ALERTS.name, changelog_topic: str = SCORE_CHANGELOG.name,
                 metrics_stage: str | None = None) -> None:
        self.policy = policy
        self.serde = serde
        self.input_topic = input_topic
        self.output_topic = output_topic
        self.state = scoring_store(self.name, changelog_topic, serde.deserializer(ScoringState, changelog_topic))
        self._latency = metrics.END_TO_END_SECONDS.labels(stage=metrics_stage or self.name)

    def handle(self, record: Alert, message: InputMessage) -> Sequence[OutgoingRecord]:
        return self.handle_alert(record, message.partition)

    def handle_alert(self, record: Alert, partition: int) -> list[OutgoingRecord]:
        """Dedupe, correlate and score ``record`` against the state of input ``partition``."""
        state = self.state.partition(partition)
        alert_id, asset_id = record.alert_id, record.resource.asset_id
        # Dedupe per (asset, alert): Compute ids derived from host names can repeat across accounts.
        finding = f"{asset_id}|{alert_id}"
        before = StageStates(dedupe=state.get(DEDUPE, finding), asset=state.get(ASSETS, asset_id),
                             history=state.value(HISTORY, _EMPTY_HISTORY))
        # The record's own ingestion time, not the wall clock: a replay reproduces the same result.
        scored, after = process_for_asset(before, record, self.policy, record.ingested_at)
        if after.dedupe is not None and after.dedupe != before.dedupe:
            state.put(DEDUPE, finding, after.dedupe)
        if after.asset != before.asset:
            if after.asset is None or not after.asset.findings:
                state.delete(ASSETS, asset_id)
            else:
                state.put(ASSETS, asset_id, after.asset)
        if after.history != before.history:
            state.set_value(HISTORY, after.history)
        if scored is None:
            return []
        latency = datetime.now(UTC).timestamp() - record.ingested_at.timestamp()
        self._latency.observe(max(0.0, latency))
        return [OutgoingRecord(self.output_topic, asset_id, scored)]
