"""The two fused processing steps the Kafka layer calls, one call per record.

* Where a raw alert belongs: :func:`raw_alert_key`, the canonical asset id sources key it by.
* Stateless (``prisma.alerts.raw`` → ``prisma.alerts``): :func:`normalise_and_enrich`.
* Stateful, per asset (``prisma.alerts`` → ``prisma.alerts.scored``): :func:`process_for_asset`
  runs dedupe, correlation and scoring over a :class:`StageStates` and returns the new states
  for the Kafka layer to store (dedupe entry keyed by alert id, asset state keyed by asset id,
  dismissal history in its own table). The split topology's score stage uses it; the fused core
  uses :func:`processors.graph.step.step_alert`, the same steps plus the asset graph (linked
  findings of neighbour assets, host aliases) and the re-emission of an incident's members.

Static inputs (feeds, owner map, scoring policy) are parsed once by the caller and passed in;
nothing here re-reads YAML or JSON that does not change per record.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from processors.correlate import AssetState, correlate
from processors.dedupe import Decision, DedupeEntry, decide
from processors.enrich import EnrichmentContext, enrich
from processors.models import Alert, AlertStatus, RawAlert, ScoredAlert, UpdateKind
from processors.errors import InvalidRecordError
from processors.normalise import normalise, normalise_with_data
from processors.score import DismissalHistory, ScoringPolicy, score

__all__ = ["StageStates", "normalise_and_enrich", "process_for_asset", "raw_alert_key"]

_KIND: dict[Decision, UpdateKind] = {
    Decision.NEW: UpdateKind.NEW,
    Decision.STATUS_CHANGE: UpdateKind.STATUS_CHANGE,
    Decision.RECURRENCE: UpdateKind.RECURRENCE,
}


class StageStates(BaseModel):
    """The state one record of the stateful stage reads and writes.

    ``dedupe`` is the entry for the record's alert id, ``asset`` the state of its asset id, and
    ``history`` the dismissal history (small; the Kafka layer may keep one per tenant).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    dedupe: DedupeEntry | None = None
    asset: AssetState | None = None
    history: DismissalHistory = Field(default_factory=DismissalHistory)


def raw_alert_key(raw: RawAlert) -> str:
    """The Kafka key a source gives a raw alert: its canonical asset id.

    Keyed so, everything about one asset lands in one partition of ``prisma.alerts.raw`` already,
    and the fused stage can dedupe, correlate and score it without a repartition hop. An alert
    that does not normalise is keyed by its source alert id; the stream stage dead-letters it
    with the reason.
    """
    try:
        return normalise(raw).resource.asset_id
    except InvalidRecordError:
        return raw.source_alert_id


def normalise_and_enrich(raw: RawAlert, context: EnrichmentContext) -> Alert:
    """Normalise then enrich one raw alert, parsing its JSON once.

    Raises :class:`processors.errors.InvalidRecordError` (stage ``normalise``) for bad input.
    """
    alert, data = normalise_with_data(raw)
    return enrich(alert, context, data)


def process_for_asset(
    states: StageStates, alert: Alert, policy: ScoringPolicy, now: datetime
) -> tuple[ScoredAlert | None, StageStates]:
    """Dedupe, correlate and score one alert; None when it is a duplicate to drop.

    ``now`` should be the record's timestamp (or ``alert.ingested_at``) so a replay reproduces
    the same states and scores. A duplicate still refreshes its finding's place in the
    correlation window. A dismissal whose reason is listed in the policy's ``suppression``
    section is learnt into the history for that policy and asset.
    """
    decision, entry = decide(states.dedupe, alert)
    result, asset = correlate(states.asset, alert, now, None, policy.correlation)
    history = states.history
    if (
        decision is Decision.STATUS_CHANGE
        and alert.status is AlertStatus.DISMISSED
        and alert.status_reason in policy.suppression.learn_from_reasons
    ):
        history = history.with_dismissal(alert.policy_id, alert.resource.asset_id)
    new_states = StageStates(dedupe=entry, asset=asset, history=history)
    if decision is Decision.DROP:
        return None, new_states
    return score(alert, result, history, policy, now, update_kind=_KIND[decision]), new_states
