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
the dedupe entries of its alerts, the correlation state of its assets and the dismissal history;
every change is written to ``prisma.score.changelog`` (same partition) in the worker's transaction
and read back when the partition is assigned.

All run inside :class:`streams.worker.TransactionalWorker`; a record that raises is dead-lettered.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from processors.dedupe import DedupeEntry
from processors.correlate import AssetState
from processors.enrich import EnrichmentContext
from processors.models import Alert, RawAlert
from processors.pipeline import StageStates, normalise_and_enrich, process_for_asset
from processors.records import ScoringState
from processors.score import DismissalHistory, ScoringPolicy
from streams import metrics
from streams.publish import OutgoingRecord
from streams.serde import AvroSerde
from streams.core_stage import CoreStage, is_link
from streams.topics import ALERTS, RAW_ALERTS, SCORE_CHANGELOG, SCORED_ALERTS
from streams.worker import InputMessage, StateRestorer

__all__ = ["CoreStage", "NormaliseEnrichStage", "ScoreStage", "PartitionState"]

log = logging.getLogger(__name__)

_HISTORY_KEY = "h"


class NormaliseEnrichStage:
    """Stateless: raw alert in, normalised and enriched alert out, keyed by asset id."""

    name = "normalise_enrich"
    input_model = RawAlert
    changelog_topic: str | None = None

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

    def assign(self, partition: int, changelog: StateRestorer) -> None:
        return None

    def revoke(self, partition: int) -> None:
        return None

    def state_size(self) -> int:
        return 0


@dataclass
class PartitionState:
    """The scoring state of one input partition."""

    dedupe: dict[str, DedupeEntry] = field(default_factory=dict)
    assets: dict[str, AssetState] = field(default_factory=dict)
    history: DismissalHistory = field(default_factory=DismissalHistory)

    def size(self) -> int:
        return len(self.dedupe) + len(self.assets)


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
        self.changelog_topic: str | None = changelog_topic
        self._decode_state = serde.deserializer(ScoringState, changelog_topic)
        self.partitions: dict[int, PartitionState] = {}
        self._latency = metrics.END_TO_END_SECONDS.labels(stage=metrics_stage or self.name)

    def handle(self, record: Alert, message: InputMessage) -> Sequence[OutgoingRecord]:
        return self.handle_alert(record, message.partition)

    def handle_alert(self, record: Alert, partition: int) -> list[OutgoingRecord]:
        """Dedupe, correlate and score ``record`` against the state of input ``partition``."""
        state = self.partitions.get(partition)
        if state is None:
            raise RuntimeError(f"partition {partition} is not assigned to this worker")
        alert_id, asset_id = record.alert_id, record.resource.asset_id
        # Dedupe per (asset, alert): Compute ids derived from host names can repeat across accounts.
        finding = f"{asset_id}|{alert_id}"
        before = StageStates(dedupe=state.dedupe.get(finding), asset=state.assets.get(asset_id),
                             history=state.history)
        # The record's own ingestion time, not the wall clock: a replay reproduces the same result.
        scored, after = process_for_asset(before, record, self.policy, record.ingested_at)
        out: list[OutgoingRecord] = []
        changelog = self.changelog_topic
        assert changelog is not None
        if after.dedupe is not None and after.dedupe != before.dedupe:
            state.dedupe[finding] = after.dedupe
            out.append(OutgoingRecord(changelog, f"d:{finding}", ScoringState(dedupe=after.dedupe),
                                      partition=partition))
        if after.asset != before.asset:
            if after.asset is None or not after.asset.findings:
                state.assets.pop(asset_id, None)
                out.append(OutgoingRecord(changelog, f"a:{asset_id}", None, partition=partition))
            else:
                state.assets[asset_id] = after.asset
                out.append(OutgoingRecord(changelog, f"a:{asset_id}", ScoringState(asset=after.asset),
                                          partition=partition))
        if after.history != before.history:
            state.history = after.history
            out.append(OutgoingRecord(changelog, _HISTORY_KEY, ScoringState(history=after.history),
                                      partition=partition))
        if scored is not None:
            out.append(OutgoingRecord(self.output_topic, asset_id, scored))
            latency = datetime.now(UTC).timestamp() - record.ingested_at.timestamp()
            self._latency.observe(max(0.0, latency))
        return out

    def assign(self, partition: int, changelog: StateRestorer) -> None:
        started = time.perf_counter()
        state = PartitionState()
        for key_bytes, value in changelog:
            key = key_bytes.decode()
            if value is None:
                if key.startswith("a:"):
                    state.assets.pop(key[2:], None)
                elif key.startswith("d:"):
                    state.dedupe.pop(key[2:], None)
                continue
            entry = self._decode_state(value)
            if entry.dedupe is not None:
                state.dedupe[key[2:]] = entry.dedupe
            elif entry.asset is not None:
                state.assets[key[2:]] = entry.asset
            elif entry.history is not None:
                state.history = entry.history
        self.partitions[partition] = state
        log.info("state restored stage=%s partition=%d entries=%d elapsed_s=%.3f", self.name, partition,
                 state.size(), time.perf_counter() - started)

    def revoke(self, partition: int) -> None:
        self.partitions.pop(partition, None)

    def state_size(self) -> int:
        return sum(p.size() for p in self.partitions.values())
