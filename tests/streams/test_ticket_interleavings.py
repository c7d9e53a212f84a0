"""The set of tickets is a function of the records, not of the order a ticket sink reads them in.

The Jira and the ServiceNow sink are separate consumers of the same topics: each interleaves the
partitions of ``prisma.alerts.scored`` (and those of ``prisma.analyses``) its own way, and each
waits for analyses on its own clock. Only the order within one partition is shared. An incident
whose member is a *linked* finding (an image running on the instance, keyed by the image's own
asset) has records on two partitions: the instance's, and the image's, where the image's own
finding (with a ticket of its own) came first. Every interleaving of those partitions, with the
analysis wait ending by the analysis or by the clock, must give both trackers the same tickets.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from connectors.jira.simulator import JiraSimulator
from processors.models import Module, RiskTier, ScoredAlert
from processors.records import Analysis
from processors.tickets import TicketRules, finding_fingerprint
from streams.sink import SinkRecord
from streams.tickets import TicketSink
from tests import outputs_harness as h
from tests.factories import make_alert, make_analysis, make_resource_ref, make_scored_alert

INCIDENT = "inc-5fdc15dfdfa185c7a34f"
INSTANCE = make_resource_ref()
IMAGE = make_resource_ref(asset_id="image:sha256:36153f70b75ed769", resource_id="sha256:36153f70b75ed769",
                          name="payments-api:1.4", resource_type="image")
MEMBERS = ["P-4711", "cwpp:image-vulns:sha256:36153f70b75ed769"]


class Clock:
    """The sink's monotonic clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _image_finding(**update: Any) -> ScoredAlert:
    alert = make_alert(alert_id=MEMBERS[1], module=Module.CWPP, policy_id="cwpp-image-vulns", resource=IMAGE)
    base = make_scored_alert(alert=alert, tier=RiskTier.HIGH, score=74, incident_id=None, incident_members=[])
    return base.model_copy(update=update)


def _partitions() -> dict[tuple[str, int], list[Any]]:
    """What the core and the analysis stage wrote, partition by partition (each in its order)."""
    image_alone = _image_finding()
    image_in_incident = _image_finding(incident_id=INCIDENT, incident_members=MEMBERS, incident_update=True,
                                       tier=RiskTier.CRITICAL, score=92)
    instance_forms_it = make_scored_alert(tier=RiskTier.CRITICAL, score=95, incident_id=INCIDENT,
                                          incident_members=MEMBERS)
    return {
        ("scored", 0): [instance_forms_it],  # the instance's partition
        ("scored", 1): [image_alone, image_in_incident],  # the image's partition
        ("analyses", 1): [make_analysis(alert_id=MEMBERS[1], incident_id=None, asset_id=IMAGE.asset_id)],
        ("analyses", 0): [make_analysis(alert_id=MEMBERS[0], incident_id=INCIDENT)],
    }


def _interleavings(queues: Sequence[Sequence[Any]]) -> Iterator[list[tuple[int, int]]]:
    """Every merge of ``queues`` that keeps each queue's order, as (queue, position) steps."""
    if not any(queues):
        yield []
        return
    for i, queue in enumerate(queues):
        if queue:
            rest = [q[1:] if j == i else q for j, q in enumerate(queues)]
            for tail in _interleavings(rest):
                yield [(i, len(queues[i]) - len(queue))] + [(j, n + (1 if j == i else 0)) for j, n in tail]


def _fingerprints(sim: Any) -> Counter[str]:
    """The fingerprint each ticket in the tracker was created for (Jira label, ServiceNow correlation_id)."""
    if isinstance(sim, JiraSimulator):
        return Counter(label.removeprefix("prismaflow-fp-") for issue in sim.issues_json()
                       for label in issue["fields"].get("labels", []) if label.startswith("prismaflow-fp-"))
    return Counter(str(record.get("correlation_id", "")) for record in sim.records("incident"))


async def _tickets(kind: h.Tracker, order: list[tuple[int, int]], *, wait_runs_out: bool) -> Counter[str]:
    """The tickets ``kind`` holds after its sink read the records in ``order``; ``wait_runs_out``: the
    analysis wait ends by the clock after every read, before any analysis can release it."""
    adapter, sim = h.tracker_for(kind)
    clock = Clock()
    sink = TicketSink(adapter, h._KAFKA, h._SERDE, clock=lambda: h.T0, rules=TicketRules(analysis_wait_s=60),
                      expects_analysis=lambda scored: not scored.incident_update, monotonic=clock)
    partitions = list(_partitions().items())
    for queue, position in order:
        (topic, partition), values = partitions[queue]
        value = values[position]
        failures, _ = await sink.deliver([SinkRecord(topic, partition, position, None, value, b"")])
        assert failures == []
        if wait_runs_out:
            clock.now += 61
            assert (await sink.deliver([]))[0] == []
    clock.now += 61
    await sink.deliver([])
    assert not sink.has_pending()
    await sink.close()
    return _fingerprints(sim)


def test_the_records_have_many_interleavings() -> None:
    orders = list(_interleavings([values for values in _partitions().values()]))
    assert len(orders) == 60 and len({tuple(o) for o in orders}) == 60


@pytest.mark.parametrize("kind", ["jira-cloud", "servicenow"])
@pytest.mark.parametrize("wait_runs_out", [False, True], ids=["analysis-releases", "wait-runs-out"])
async def test_every_interleaving_of_an_incident_with_a_linked_member_gives_the_same_tickets(
    kind: h.Tracker, wait_runs_out: bool,
) -> None:
    """The incident has its own ticket and the image's finding keeps its own, whichever partition the
    sink reads first: the incident never adopts the ticket of a finding whose records are on another
    partition than its first record (before the fix it did when the image's partition came first)."""
    image = finding_fingerprint(_image_finding())
    expected = Counter({image: 1, INCIDENT: 1})
    for order in _interleavings([values for values in _partitions().values()]):
        assert await _tickets(kind, order, wait_runs_out=wait_runs_out) == expected, order
