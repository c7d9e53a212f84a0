"""The fault campaign: faults one after another under steady traffic, then what was lost or doubled.

Each fault gets a window: the fault itself, then a steady phase. Alerts are attributed to the
window in which they were first posted. At the end the traffic stops, the pipeline is given time to
catch up, and the committed records are counted:

- *alerts in*: notifications the webhook receiver acknowledged (2xx) in that window;
- *lost*: acknowledged alerts that never reached ``prisma.alerts.scored``;
- *duplicated*: alerts that reached it more than once (every alert is new, so once is right);
- *duplicate tickets*: Jira issues beyond one per fingerprint (the simulator's own store);
- *recovered without help*: no process exited on its own during the window (a process the fault
  killed is restarted by the campaign, as a supervisor would; that restart is not "help").
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, TopicPartition

from connectors.prisma.simulator.estate import generate_estate
from connectors.prisma.simulator.webhooks import cspm_notification
from processors.models import ScoredAlert
from streams.devtools.chaos.load import WebhookLoad
from streams.devtools.chaos.stack import WEBHOOK_TOKEN, ChaosStack
from streams.kafka_clients import KafkaClients
from streams.serde import AvroSerde
from streams.topics import DLQ, RAW_ALERTS, SCORED_ALERTS

__all__ = ["CampaignPlan", "CampaignReport", "FaultRow", "run_campaign", "format_table", "QUICK", "FULL"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CampaignPlan:
    """What to attack and for how long."""

    processes: tuple[str, ...]
    faults: tuple[str, ...]
    broker_outage_s: float
    sink_outage_s: float
    steady_s: float
    rate: float
    catch_up_s: float = 240.0


# The quick outage (12 s) is still longer than the webhook's write timeout (5 s: the receiver answers
# 503 and Prisma Cloud retries) and shorter than the producers' message.timeout.ms (30 s), as the
# 20 s it was; the long campaign's 130 s is the one that outlasts every client timeout.
QUICK = CampaignPlan(processes=("core", "jira", "siem", "webhook"),
                     faults=("broker_outage", "kill9_core", "sink_outage", "corrupt_records", "poison_notification"),
                     broker_outage_s=12, sink_outage_s=10, steady_s=5, rate=8)
FULL = CampaignPlan(processes=("core", "analyse", "jira", "siem", "webhook", "poll"),
                    faults=("broker_outage", "kill9_core", "kill9_analyse", "kill9_jira", "kill9_siem",
                            "kill9_webhook", "kill9_poll", "sink_outage", "corrupt_records", "poison_notification"),
                    broker_outage_s=130, sink_outage_s=60, steady_s=20, rate=10)


@dataclass
class FaultRow:
    fault: str
    note: str
    started: float
    ended: float = 0.0
    alerts_in: int = 0
    lost: int = 0
    duplicated: int = 0
    exited_on_their_own: list[str] = field(default_factory=list)

    @property
    def recovered_without_help(self) -> bool:
        return not self.exited_on_their_own


@dataclass
class CampaignReport:
    plan: dict[str, Any]
    rows: list[FaultRow]
    duplicate_tickets: int
    tickets: int
    dead_letters: int
    slowest_webhook_answer_s: float
    webhook_statuses: dict[int, int]
    sigterm_exits: dict[str, tuple[int | None, float]]
    caught_up_s: float

    @property
    def clean(self) -> bool:
        return (all(r.lost == 0 and r.duplicated == 0 and r.recovered_without_help for r in self.rows)
                and self.duplicate_tickets == 0)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["clean"] = self.clean
        return out


Fault = Callable[[ChaosStack, WebhookLoad, CampaignPlan], str]


def _broker_outage(stack: ChaosStack, load: WebhookLoad, plan: CampaignPlan) -> str:
    stack.broker.stop()
    time.sleep(plan.broker_outage_s)
    stack.broker.start()
    return f"broker stopped {plan.broker_outage_s:.0f} s under traffic, then started"


def _kill9(name: str) -> Fault:
    def fault(stack: ChaosStack, load: WebhookLoad, plan: CampaignPlan) -> str:
        process = stack.processes[name]
        process.kill9()
        time.sleep(2)
        process.start()
        return f"kill -9 of `{' '.join(process.argv)}`, restarted 2 s later"
    return fault


def _sink_outage(stack: ChaosStack, load: WebhookLoad, plan: CampaignPlan) -> str:
    stack.stop_jira()
    time.sleep(plan.sink_outage_s)
    stack.start_jira()
    return f"Jira down {plan.sink_outage_s:.0f} s"


def _corrupt_records(stack: ChaosStack, load: WebhookLoad, plan: CampaignPlan) -> str:
    producer = KafkaClients(stack.kafka).producer()
    for topic in (RAW_ALERTS.name, SCORED_ALERTS.name):
        for value in (b"\x00garbage", b"\xc3\x01{not avro}", b"", b"\xff" * 64):
            producer.produce(topic, key=b"chaos-corrupt", value=value)
    producer.flush(30)
    return "4 corrupt records each on prisma.alerts.raw and prisma.alerts.scored"


def _poison_notification(stack: ChaosStack, load: WebhookLoad, plan: CampaignPlan) -> str:
    alert = next(iter(generate_estate(99, 5).alerts.values()))
    body = cspm_notification(alert)
    body["alertId"] = "P-chaos-poison"
    body["policyName"] = "Hostile name \udcff"
    body["resource"]["name"] = "tag\udcffvalue"
    status = load.extra(body)
    if status < 200 or status >= 500:
        raise AssertionError(f"the surrogate notification got HTTP {status}")
    return f"a notification with lone surrogates in policyName and resource name: HTTP {status}"


FAULTS: dict[str, Fault] = {
    "broker_outage": _broker_outage,
    **{f"kill9_{name}": _kill9(name) for name in ("core", "analyse", "jira", "siem", "webhook", "poll")},
    "sink_outage": _sink_outage,
    "corrupt_records": _corrupt_records,
    "poison_notification": _poison_notification,
}


def _watch(stack: ChaosStack, row: FaultRow, seconds: float) -> None:
    """Steady traffic for ``seconds``; a process that exits on its own is noted and restarted."""
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        for name, running in stack.check().items():
            if not running:
                process = stack.processes[name]
                row.exited_on_their_own.append(f"{name} (status {process.unexpected_exits[-1]})")
                log.warning("process exited on its own name=%s status=%s; restarting", name,
                            process.unexpected_exits[-1])
                process.start()
        time.sleep(0.5)


def _scored_counts(stack: ChaosStack, wanted: set[str], timeout_s: float) -> tuple[Counter[str], float]:
    """Alert ids on the scored topic (committed), waiting until every wanted one is there."""
    serde, topic = AvroSerde(), SCORED_ALERTS.name
    consumer = KafkaClients(stack.kafka).reader("chaos")
    counts: Counter[str] = Counter()
    started = time.monotonic()
    quiet_since = time.monotonic()
    try:
        partitions = consumer.list_topics(topic, timeout=30).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        while time.monotonic() - started < timeout_s:
            messages = [m for m in consumer.consume(1000, 0.5) if m.error() is None]
            for message in messages:
                try:
                    scored = serde.decode(message.value() or b"", ScoredAlert, topic=topic)
                except Exception:  # noqa: BLE001 - the corrupt records the campaign wrote itself
                    continue
                if not scored.incident_update:  # a member re-emitted for its incident is no duplicate
                    counts[scored.alert.alert_id] += 1
            if messages:
                quiet_since = time.monotonic()
            if wanted <= set(counts) and time.monotonic() - quiet_since > 5:
                break
    finally:
        consumer.close()
    return counts, time.monotonic() - started


def _dead_letters(stack: ChaosStack) -> int:
    consumer = KafkaClients(stack.kafka).reader("chaos")
    try:
        partitions = consumer.list_topics(DLQ.name, timeout=30).topics[DLQ.name].partitions
        return sum(max(0, high - low) for low, high in
                   (consumer.get_watermark_offsets(TopicPartition(DLQ.name, p), timeout=30) for p in partitions))
    finally:
        consumer.close()


def _tickets_per_fingerprint(stack: ChaosStack) -> Counter[str]:
    labels: Counter[str] = Counter()
    for issue in stack.jira_sim.issues_json():
        for label in issue["fields"]["labels"]:
            if label.startswith("prismaflow-fp-"):
                labels[label.removeprefix("prismaflow-fp-")] += 1
    return labels


def run_campaign(home: Path, plan: CampaignPlan, *, say: Callable[[str], None] = print) -> CampaignReport:
    """Build the stack, run every fault of ``plan`` under traffic, and count."""
    stack = ChaosStack(home, plan.processes)
    say(f"chaos: starting a broker, the Jira simulator and {', '.join(plan.processes)} in {home}")
    stack.start()
    load = WebhookLoad(f"{stack.webhook_url}/webhooks/prisma/cspm", WEBHOOK_TOKEN, rate=plan.rate)
    rows: list[FaultRow] = []
    sigterm: dict[str, tuple[int | None, float]] = {}
    try:
        warm = FaultRow("warm-up", "steady traffic before the first fault", time.time())
        load.start()
        _watch(stack, warm, plan.steady_s * 2)
        rows.append(warm)
        for name in plan.faults:
            row = FaultRow(name, "", time.time())
            say(f"chaos: {name} ...")
            try:
                row.note = FAULTS[name](stack, load, plan)
            except Exception as exc:  # noqa: BLE001 - a fault that went wrong is a finding, not a crash
                row.note = f"FAILED: {exc}"
                row.exited_on_their_own.append(f"(the fault itself failed: {type(exc).__name__})")
            _watch(stack, row, plan.steady_s)
            row.ended = time.time()
            rows.append(row)
            say(f"chaos: {name}: {row.note}")
        load.stop()
        acknowledged = load.acknowledged()
        say(f"chaos: traffic stopped; {len(acknowledged)} alerts acknowledged; waiting for the pipeline to catch up")
        counts, caught_up = _scored_counts(stack, {p.alert_id for p in acknowledged}, plan.catch_up_s)
        for row, following in zip(rows, [*rows[1:], None]):
            end = following.started if following else float("inf")
            mine = [p for p in acknowledged if row.started <= p.first_posted < end]
            row.alerts_in = len(mine)
            row.lost = sum(1 for p in mine if counts[p.alert_id] == 0)
            row.duplicated = sum(1 for p in mine if counts[p.alert_id] > 1)
        tickets = _tickets_per_fingerprint(stack)
        dead = _dead_letters(stack)
        stack.check()
    finally:
        load.stop()
        sigterm = stack.stop()
    return CampaignReport(plan=asdict(plan), rows=rows, duplicate_tickets=sum(n - 1 for n in tickets.values()),
                          tickets=len(tickets), dead_letters=dead,
                          slowest_webhook_answer_s=round(load.slowest_answer_s, 2),
                          webhook_statuses=dict(load.statuses), sigterm_exits=sigterm, caught_up_s=round(caught_up, 1))


def format_table(report: CampaignReport) -> str:
    lines = [f"{'fault':<22} {'alerts in':>9} {'lost':>5} {'duplicated':>10}  {'recovered without help':<24} what was done",
             "-" * 110]
    for row in report.rows:
        recovered = "yes" if row.recovered_without_help else "NO: " + ", ".join(row.exited_on_their_own)
        lines.append(f"{row.fault:<22} {row.alerts_in:>9} {row.lost:>5} {row.duplicated:>10}  {recovered:<24} {row.note}")
    lines.append("-" * 110)
    total_in = sum(r.alerts_in for r in report.rows)
    lines.append(f"{'total':<22} {total_in:>9} {sum(r.lost for r in report.rows):>5} "
                 f"{sum(r.duplicated for r in report.rows):>10}")
    lines.append(f"tickets: {report.tickets} fingerprints, {report.duplicate_tickets} duplicate tickets; "
                 f"dead letters: {report.dead_letters}; slowest webhook answer: {report.slowest_webhook_answer_s} s; "
                 f"answers by status: {dict(sorted(report.webhook_statuses.items()))}")
    exits = ", ".join(f"{name} {status} in {took:.1f} s" for name, (status, took) in report.sigterm_exits.items())
    lines.append(f"SIGTERM at the end: {exits}")
    lines.append(f"verdict: {'CLEAN' if report.clean else 'PROBLEMS FOUND'}")
    return "\n".join(lines)


def save(report: CampaignReport, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.to_json(), indent=2, default=str))
