"""The fused stream core: raw alert in, scored alert out, with the asset graph across partitions.

:class:`CoreStage` reads ``prisma.alerts.raw``, which the sources key by canonical asset id
(:func:`processors.pipeline.raw_alert_key`), and per record normalises, enriches, dedupes,
correlates and scores (:func:`processors.graph.step.step_alert`), keeping its state per input
partition in the scoring state store (:mod:`streams.scoring_state`). Three kinds of record arrive on that topic:

* a raw alert keyed by its asset: processed here;
* a raw alert keyed otherwise (another producer keyed it by alert id): written back to the topic
  under its asset's key, in the same transaction, and processed when it arrives there. A raw alert
  on a host known only by name whose partition knows the instance it is (an alias, see
  :mod:`processors.graph`) is re-keyed to that instance the same way, with the header
  ``prismaflow-resolved-from: <host asset id>``; the instance's partition then moves it onto the
  instance (:func:`processors.graph.resolve.resolve_onto`);
* an :class:`~processors.records.AssetLink` (header ``prismaflow-record: AssetLink``): a message
  the core sent itself about the asset graph, keyed by the asset it is for
  (:func:`processors.graph.step.step_link`).

Everything a record causes (scored alerts, links, re-keyed records, changelog) is written in the
worker's one transaction with the input offsets, so links are delivered exactly once like any
other output (the argument is in :mod:`processors.graph`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from processors.enrich import EnrichmentContext, enrich
from processors.errors import InvalidRecordError
from processors.graph.resolve import resolve_onto
from processors.graph.state import resolved_instance
from processors.graph.step import AssetView, Step, step_alert, step_link
from processors.models import RawAlert
from processors.normalise import normalise_with_data
from processors.normalise.asset import asset_kind
from processors.records import AssetLink, ScoringState
from processors.score import ScoringPolicy
from streams import metrics
from streams.scoring_state import GRAPHS, apply_view, scoring_store, view_of
from streams.publish import OutgoingRecord
from streams.serde import AvroSerde
from streams.stage import InputMessage
from streams.state_store import PartitionStore
from streams.topics import RAW_ALERTS, SCORE_CHANGELOG, SCORED_ALERTS

__all__ = ["CoreStage", "RECORD_HEADER", "REPLAY_HEADER", "RESOLVED_HEADER", "is_link"]

log = logging.getLogger(__name__)

RECORD_HEADER = "prismaflow-record"
"""Header naming the record type of a message on the raw topic that is not a RawAlert."""
RESOLVED_HEADER = "prismaflow-resolved-from"
REPLAY_HEADER = "prismaflow-replay"
"""On a raw alert ``prismaflow replay`` re-published: score it again if it is the current version
(:func:`processors.graph.step.step_alert`, ``rescore``). Kept when the core re-keys the record."""
"""Header of a raw alert re-keyed from a host known by name to its instance: the host's asset id."""
_LINK = b"AssetLink"


def is_link(headers: Mapping[str, bytes] | None) -> bool:
    """Whether a message of the raw topic is the core's own :class:`AssetLink` (not a raw alert)."""
    return headers is not None and headers.get(RECORD_HEADER) == _LINK


class CoreStage:
    """Fused, one hop: raw alert in, scored alert out (normalise, enrich, dedupe, correlate, score)."""

    name = "core"
    input_model = RawAlert

    def __init__(self, context: EnrichmentContext, policy: ScoringPolicy, serde: AvroSerde, *,
                 input_topic: str = RAW_ALERTS.name, output_topic: str = SCORED_ALERTS.name,
                 changelog_topic: str = SCORE_CHANGELOG.name) -> None:
        self.context = context
        self.policy = policy
        self.input_topic = input_topic
        self.output_topic = output_topic
        self._decode_raw = serde.deserializer(RawAlert, input_topic)
        self._decode_link = serde.deserializer(AssetLink, input_topic)
        self.state = scoring_store(self.name, changelog_topic, serde.deserializer(ScoringState, changelog_topic))
        self._rekeyed = metrics.REKEYED.labels(stage=self.name)
        self._latency = metrics.END_TO_END_SECONDS.labels(stage=self.name)
        self._links = {kind: metrics.LINKS.labels(stage=self.name, kind=kind) for kind in ("alias", "edge", "member")}

    def decode(self, message: InputMessage) -> RawAlert | AssetLink:
        """A raw alert, or the core's own link message (by its header)."""
        assert message.value is not None
        if is_link(message.headers):
            return self._decode_link(message.value)
        return self._decode_raw(message.value)

    def handle(self, record: RawAlert | AssetLink, message: InputMessage) -> Sequence[OutgoingRecord]:
        state = self.state.partition(message.partition)
        key = message.key.decode("utf-8", "replace") if message.key is not None else ""
        if isinstance(record, AssetLink):
            if key != record.target:
                raise InvalidRecordError(f"asset link for {record.target!r} keyed {key!r}", stage=self.name)
            before = view_of(state, record.target)
            return self._outputs(state, before, step_link(before, record, self.policy), None)
        alert, data = normalise_with_data(record)
        alert = enrich(alert, self.context, data)
        asset = alert.resource.asset_id
        resolved_from = message.headers.get(RESOLVED_HEADER)
        if resolved_from is not None and resolved_from.decode("utf-8", "replace") == asset and key != asset:
            try:
                alert = resolve_onto(alert, key)
            except ValueError as exc:
                raise InvalidRecordError(str(exc), stage=self.name) from exc
            asset = key
        elif key != asset:
            return [self._rekey(record, asset, message)]
        elif asset_kind(asset) == "host":
            instance = resolved_instance(state.get(GRAPHS, asset), alert.ingested_at, self.policy.correlation.graph)
            if instance is not None:
                return [self._rekey(record, instance, message, {RESOLVED_HEADER: asset.encode()})]
        finding = f"{asset}|{alert.alert_id}"
        before = view_of(state, asset, finding)
        # The record's own ingestion time, not the wall clock: a replay reproduces the same result.
        step = step_alert(before, alert, data, self.policy, alert.ingested_at,
                          rescore=REPLAY_HEADER in message.headers)
        out = self._outputs(state, before, step, finding)
        if step.scored and step.scored[0].alert.alert_id == alert.alert_id and not step.scored[0].incident_update:
            self._latency.observe(max(0.0, datetime.now(UTC).timestamp() - alert.ingested_at.timestamp()))
        return out

    def _rekey(self, record: RawAlert, key: str, message: InputMessage,
               headers: Mapping[str, bytes] | None = None) -> OutgoingRecord:
        self._rekeyed.inc()
        log.debug("re-keyed stage=%s alert=%s key=%r to=%s partition=%d offset=%d", self.name,
                  record.source_alert_id, message.key, key, message.partition, message.offset)
        replay = {REPLAY_HEADER: message.headers[REPLAY_HEADER]} if REPLAY_HEADER in message.headers else {}
        return OutgoingRecord(self.input_topic, key, record, headers={**replay, **(headers or {})})

    def _outputs(self, state: PartitionStore, before: AssetView, step: Step, finding: str | None) -> list[OutgoingRecord]:
        apply_view(state, before, step.view, finding)
        out = [OutgoingRecord(self.output_topic, s.alert.resource.asset_id, s) for s in step.scored]
        for link in step.links:
            self._links[link.kind.value].inc()
            out.append(OutgoingRecord(self.input_topic, link.target, link, headers={RECORD_HEADER: _LINK}))
        return out
