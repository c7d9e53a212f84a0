"""``make demo``: the pipeline end to end on the embedded defaults, narrated.

A local Kafka broker (or ``KAFKA_BOOTSTRAP_SERVERS``), a Schema Registry (``SCHEMA_REGISTRY_URL`` or the
local Apicurio, with the schemas registered as a deploy registers them, so every topic carries the
Confluent wire format), the Prisma Cloud simulator served over real
HTTP, the pollers and the webhook receiver writing to ``prisma.alerts.raw``, the normalise and score
workers, then a summary: what each stage did, the top risks with the factors behind their scores, a
correlated incident, and one alert's journey topic by topic. Every run uses its own topic prefix,
so runs never mix; a broker the demo started is stopped at the end.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import httpx
from confluent_kafka import TopicPartition
from pydantic import SecretStr

from connectors.jira.settings import JiraSettings
from connectors.jira.simulator import JiraSimulator
from connectors.jira.simulator import SimConfig as JiraSimConfig
from connectors.prisma.compute_client import ComputeClient
from connectors.prisma.cspm_client import CspmClient
from connectors.prisma.settings import PollerSettings, PrismaSettings, WebhookSettings
from connectors.prisma.simulator import PrismaCloudSimulator, SimConfig, push_webhooks
from connectors.prisma.source import ComputePoller, CspmPoller
from connectors.prisma.webhook import create_webhook_app
from connectors.servicenow.settings import ServiceNowSettings
from connectors.servicenow.simulator import ServiceNowSimulator
from processors.errors import PrismaflowError
from processors.models import RawAlert, ScoredAlert, UpdateKind
from processors.records import Analysis, DeadLetter, TicketState
from processors.tickets import TicketRules, fingerprint
from streams.async_publish import AsyncPublisher
from processors.audit import AuditKeyring
from streams.audit import local_signing_key, verify_audit
from streams.checkpoints import KafkaCheckpointStore, KafkaPageWriter
from streams.compose import build_sink_worker
from streams.config import PrismaflowSettings
from streams.config.audit import AuditSettings
from streams.config.systems import JIRA_DEFAULTS, SERVICENOW_DEFAULTS
from streams.core_stage import is_link
from streams.devtools.broker import LocalBroker
from streams.embedded import ServedApp, ThreadedSink, ThreadedWorker, free_port
from streams.group_progress import group_caught_up
from streams.kafka_clients import KafkaClients
from streams.devtools.demo_registry import DemoRegistry
from streams.operator.preflight import require_broker
from streams.serde import AvroSerde, SerdeSettings
from streams.settings import KafkaSettings, default_home
from streams.topics import (
    ANALYSES,
    AUDIT,
    CATALOGUE,
    DLQ,
    RAW_ALERTS,
    SCORED_ALERTS,
    SOURCE_CHECKPOINTS,
    TICKETS,
    create_topics,
)

__all__ = ["run_demo"]

_TOKEN = "Bearer demo-webhook-token"


def _say(stage: str, text: str) -> None:
    print(f"  {stage:<10} {text}", flush=True)


def _read(kafka: KafkaSettings, topic: str, *, settle_s: float = 1.5, timeout_s: float = 60.0) -> list[Any]:
    consumer = KafkaClients(kafka).reader("demo-reader")
    consumer.subscribe([topic])
    messages: list[Any] = []
    last = time.monotonic()
    deadline = last + timeout_s
    try:
        while time.monotonic() - last < settle_s and time.monotonic() < deadline:
            for message in consumer.consume(1000, 0.2):
                if message.error() is None:
                    messages.append(message)
                    last = time.monotonic()
    finally:
        consumer.close()
    return messages


def _wait_settled(kafka: KafkaSettings, reads: dict[str, list[str]], timeout_s: float = 240.0) -> None:
    """Wait until every consumer group of ``reads`` has read its topics to the end, twice in a row.

    The core (raw -> scored, and its own asset-graph messages back onto raw), the analysis stage and
    the ticket sinks each commit only what they finished (a ticket sink only after its tracker
    confirmed), so once all of them are caught up, and still are a moment later (no stage was
    between a read and its commit), every ticket is in its tracker. A quiet topic alone is not
    enough: a busy machine can pause a stage longer than any quiet period.
    """
    clients = KafkaClients(kafka)
    deadline = time.monotonic() + timeout_s
    settled = 0
    while time.monotonic() < deadline:
        if all(group_caught_up(clients, group, topics) for group, topics in reads.items()):
            settled += 1
            if settled == 2:
                return
        else:
            settled = 0
        time.sleep(1.0)
    raise PrismaflowError(f"the pipeline did not settle within {timeout_s:.0f}s")


async def _ingest(sim_url: str, receiver_url: str, kafka: KafkaSettings, serde: AvroSerde, prefix: str,
                  sim: Any) -> dict[str, Any]:
    """Poll the simulator over HTTP and have it push webhooks; return what happened."""
    prisma = PrismaSettings(api_url=sim_url, compute_url=sim_url, username="sim-access-key",
                            password=SecretStr("sim-secret-key"), page_size=200)
    poller = PollerSettings(raw_topic=prefix + RAW_ALERTS.name, initial_look_back_s=60 * 86400)
    store = KafkaCheckpointStore(kafka, serde, checkpoint_topic=prefix + SOURCE_CHECKPOINTS.name)
    writer = KafkaPageWriter(kafka, serde, f"{prefix}poller", checkpoint_topic=prefix + SOURCE_CHECKPOINTS.name)
    sim_now = lambda: datetime.fromtimestamp(sim.clock.now(), UTC)  # noqa: E731 - the simulator's time
    try:
        async with CspmClient(prisma) as cspm, ComputeClient(prisma) as compute:
            cspm_result = await CspmPoller(poller, cspm, writer, store, clock=sim_now).poll_once()
            compute_result = await ComputePoller(poller, compute, writer, store, clock=sim_now).poll_once()
            changed = sim.advance(6 * 3600)  # six simulated hours: alerts resolve, get dismissed, reopen
            second = await CspmPoller(poller, cspm, writer, store, clock=sim_now).poll_once()
    finally:
        writer.close()
    notified = list(sim.alerts.values())[:20]
    async with httpx.AsyncClient(timeout=10) as http:
        statuses = await push_webhooks(f"{receiver_url}/webhooks/prisma/cspm", notified, ("Authorization", _TOKEN),
                                       client=http)
        malformed = await http.post(f"{receiver_url}/webhooks/prisma/cspm", headers={"Authorization": _TOKEN},
                                    json=[{"alertStatus": "open", "policyName": "no id"}])
        refused = await http.post(f"{receiver_url}/webhooks/prisma/cspm", json=[])
    return {"cspm": cspm_result, "compute": compute_result, "changed": len(changed), "second": second,
            "webhook_statuses": statuses, "webhook_alerts": len(notified),
            "malformed": malformed.json(), "refused": refused.status_code}


def _start_sinks(settings: PrismaflowSettings, serde: AvroSerde, served: list[ServedApp],
                 sinks: list[ThreadedSink]) -> dict[str, Any]:
    """The analysis stage (offline unless PRISMAFLOW_LLM_API_KEY is set) and the Jira and ServiceNow
    sinks, against simulators served over HTTP, built by the composition root like ``prismaflow sink``:
    the ticket lifecycle (``PRISMAFLOW_TICKETS_*``) and the analysis settings apply; the trackers'
    sections are the simulators' (their URLs and credentials)."""
    jira_port = free_port()
    jira_url = f"http://127.0.0.1:{jira_port}"
    jira_sim = JiraSimulator(config=JiraSimConfig(base_url=jira_url))
    served.append(ServedApp(jira_sim, jira_port))
    sn_sim = ServiceNowSimulator()
    sn_app = ServedApp(sn_sim)
    served.append(sn_app)
    demo = settings.model_copy(update={"jira": JiraSettings.model_validate({**JIRA_DEFAULTS, "base_url": jira_url}),
                                       "servicenow": ServiceNowSettings.model_validate(
                                           {**SERVICENOW_DEFAULTS, "instance_url": sn_app.url})})
    for name in ("analyse", "jira", "servicenow"):
        sinks.append(ThreadedSink(build_sink_worker(name, demo, serde)))
    llm = settings.llm
    _say("analysis", f"analysis stage running ({'LLM ' + llm.model if llm.configured else 'offline analyser: no PRISMAFLOW_LLM_API_KEY'})")
    _say("sinks", f"Jira simulator at {jira_url}, ServiceNow simulator at {sn_app.url}")
    return {"jira": jira_sim, "servicenow": sn_sim}


def _signed(settings: PrismaflowSettings) -> PrismaflowSettings:
    """``settings`` with an audit signing key: the configured one, else a local key kept in
    ``$PRISMAFLOW_HOME/secrets`` (generated at the first run; never a key in code)."""
    if settings.audit.signing_key is not None:
        _say("audit", f"signing audit records with key {settings.audit.signer().key_id} (configured)")
        return settings
    path = default_home() / "secrets" / "prismaflow_audit_signing_key"
    signer, generated = local_signing_key(path, key_id="demo_local")
    _say("audit", f"signing audit records with key {signer.key_id} from {path}"
                  + (" (generated now)" if generated else ""))
    audit = AuditSettings(signing_key=SecretStr(signer.secret_text()), verify_keys=settings.audit.verify_keys)
    return settings.model_copy(update={"audit": audit})


#: How long the demo's new tickets wait for their analysis, unless PRISMAFLOW_TICKETS_ANALYSIS_WAIT_S is set:
#: the whole estate arrives at once, and on a busy laptop the analysis stage falls minutes behind.
DEMO_ANALYSIS_WAIT_S = 180.0


def _patient(settings: PrismaflowSettings) -> TicketRules:
    """The ticket rules of the demo: the configured ones, with a longer wait for analyses by default."""
    if "analysis_wait_s" in settings.tickets.model_fields_set:
        return settings.tickets
    return settings.tickets.model_copy(update={"analysis_wait_s": DEMO_ANALYSIS_WAIT_S})


def _report_downstream(kafka: KafkaSettings, serde: Any, prefix: str, journey: ScoredAlert,
                       trackers: dict[str, Any], keyring: AuditKeyring) -> dict[str, int]:
    analyses = [serde.decode(m.value(), Analysis, topic=prefix + ANALYSES.name) for m in _read(kafka, prefix + ANALYSES.name)]
    states = [serde.decode(m.value(), TicketState, topic=prefix + TICKETS.name) for m in _read(kafka, prefix + TICKETS.name)]
    mine = next((a for a in reversed(analyses) if a.alert_id == journey.alert.alert_id), None)
    if mine is not None:
        print(f"  4. {ANALYSES.name}  analyser={mine.analyser.value} priority={mine.priority.value} "
              f"outcome={mine.outcome.value} prompt={mine.prompt_id}@{mine.prompt_version}")
        print(f"       {mine.summary[:160]}")
        for step in mine.remediation_steps[:3]:
            print(f"       {step.order}. {step.description[:90]}" + (f"\n          $ {step.command[:100]}" if step.command else ""))
    fp = fingerprint(journey)
    latest = {state.tracker: state for state in states if state.fingerprint == fp}  # the topic is compacted
    for state in latest.values():
        print(f"  5. {TICKETS.name}  {state.tracker.value} {state.ticket_key} {state.ticket_url} status={state.status}")
    jira_issues = trackers["jira"].issues_json()
    sn_records = trackers["servicenow"].records("incident")
    # The ADF description of an issue created with its analysis has the "Analysis" heading.
    with_analysis = sum(1 for issue in jira_issues if '"text": "Analysis"' in json.dumps(issue["fields"].get("description")))
    print(f"  6. {with_analysis} of {len(jira_issues)} Jira issues were created with their analysis in the body "
          f"(the rest got it as a comment)")
    jira_fps = Counter(label.removeprefix("prismaflow-fp-") for issue in jira_issues
                       for label in issue["fields"].get("labels", []) if label.startswith("prismaflow-fp-"))
    if jira_fps != (sn_fps := Counter(str(record.get("correlation_id", "")) for record in sn_records)):
        print(f"  ! the trackers differ (a known defect): Jira {dict(jira_fps - sn_fps)}, ServiceNow {dict(sn_fps - jira_fps)}")
    reports = verify_audit(kafka, serde, prefix + AUDIT.name, keyring=keyring)
    checked = sum(r.report.checked for r in reports)
    print(f"\nDownstream: {len(analyses)} analyses, {len(jira_issues)} Jira issues, {len(sn_records)} ServiceNow "
          f"incidents (one per fingerprint), audit trail {checked} signed records in {len(reports)} chains: "
          f"{'verified' if all(r.report.ok for r in reports) else 'BROKEN'}")
    if not all(r.report.ok for r in reports):
        raise PrismaflowError("the audit trail did not verify")
    return {"analyses": len(analyses), "jira_issues": len(jira_issues), "servicenow_incidents": len(sn_records),
            "jira_issues_with_analysis": with_analysis, "audit_records": checked}


def _describe(s: ScoredAlert) -> str:
    a = s.alert
    name = a.resource.name or a.resource.resource_id
    return f"{s.score:>3} {s.tier.value:<8} {a.module.value:<4} {a.policy_name[:60]} — {name[:40]} ({a.resource.account_id})"


def run_demo(settings: PrismaflowSettings) -> int:
    """Run the demo on ``settings``; exit code 0 when every stage did its part.

    The broker is the one ``KAFKA_BOOTSTRAP_SERVERS`` names, else a local one started here; every run
    writes under its own topic prefix and consumer group prefix, whatever the worker section says.
    """
    started_at = time.monotonic()
    print("Prismaflow demo: Prisma Cloud alerts in, prioritised and explained risks out\n", flush=True)
    broker: LocalBroker | None = None
    bootstrap = settings.kafka.bootstrap_servers if "bootstrap_servers" in settings.kafka.model_fields_set else None
    if bootstrap:
        require_broker(settings.kafka)  # a dead broker: one clear line within seconds, not a 30 s wait
        _say("broker", f"using KAFKA_BOOTSTRAP_SERVERS={bootstrap}")
    else:
        local = LocalBroker(settings.broker)
        already = local.status().running
        status = local.start()
        broker = None if already else local
        bootstrap = status.bootstrap_servers
        _say("broker", f"{'reusing' if already else 'started'} local Apache Kafka "
                       f"{local.settings.kafka_version} (KRaft) at {bootstrap}")
    kafka = settings.kafka.model_copy(update={"bootstrap_servers": bootstrap})
    prefix = f"demo-{datetime.now(UTC):%Y%m%d-%H%M%S}."
    created = create_topics(KafkaClients(kafka).admin(), CATALOGUE, prefix=prefix)
    _say("topics", f"created {len(created.created)} topics, prefix {prefix}")
    registry = DemoRegistry(settings.schema_registry, _say)
    serde = AvroSerde()
    served: list[ServedApp] = []
    workers: list[ThreadedWorker] = []
    sinks: list[Any] = []
    try:
        registry_settings = registry.start(prefix)
        serde = AvroSerde(SerdeSettings(registry=registry_settings))
        sim = PrismaCloudSimulator(config=SimConfig(rate_limits=False), seed=7, n_alerts=400)
        sim_app = ServedApp(sim)
        served.append(sim_app)
        clouds = Counter(a["resource"]["cloudType"] for a in sim.alerts.values())
        _say("simulator", f"Prisma Cloud (CSPM + Compute) at {sim_app.url}: {len(sim.alerts)} alerts "
                          f"({', '.join(f'{c} {n}' for c, n in sorted(clouds.items()))}), "
                          f"{len(sim.estate.compute.hosts)} hosts, {len(sim.estate.compute.images)} images")
        publisher: dict[str, AsyncPublisher] = {}

        class _Publisher:
            async def send_many(self, records: list[Any]) -> list[Any]:
                if "p" not in publisher:
                    publisher["p"] = AsyncPublisher(kafka, serde)
                return await publisher["p"].send_many(records)

        receiver = ServedApp(create_webhook_app(
            WebhookSettings(auth_token=SecretStr(_TOKEN), raw_topic=prefix + RAW_ALERTS.name,
                            dlq_topic=prefix + DLQ.name), _Publisher()))
        served.append(receiver)
        _say("webhook", f"receiver at {receiver.url}/webhooks/prisma/cspm (token required)")

        demo = _signed(settings).model_copy(update={
            "kafka": kafka, "schema_registry": registry_settings, "tickets": _patient(settings),
            "worker": settings.worker.model_copy(
                update={"topic_prefix": prefix, "group_prefix": prefix + "g", "instance_id": "demo"})})
        workers = [ThreadedWorker("core", demo, serde)]
        _say("workers", "core stage running: normalise, enrich, dedupe, correlate, score in one exactly-once hop")
        trackers = _start_sinks(demo, serde, served, sinks)

        ingest = asyncio.run(_ingest(sim_app.url, receiver.url, kafka, serde, prefix, sim))
        _say("poll", f"CSPM /v2/alert: {ingest['cspm'].alerts} alerts in {ingest['cspm'].pages} pages; "
                     f"Compute: {ingest['compute'].alerts} records in {ingest['compute'].pages} pages")
        _say("poll", f"6 simulated hours later ({ingest['changed']} status changes in the simulator) the next window re-read "
                     f"{ingest['second'].alerts} (look-back included)")
        ok = sum(1 for s in ingest["webhook_statuses"] if s == 200)
        _say("webhook", f"Prisma Cloud pushed {ingest['webhook_alerts']} notifications in {len(ingest['webhook_statuses'])} "
                        f"requests ({ok} answered 200); a malformed record -> {ingest['malformed']}; "
                        f"no token -> {ingest['refused']}")
        if "p" in publisher:
            asyncio.run(publisher.pop("p").close())

        scored_topic, analyses_topic = prefix + SCORED_ALERTS.name, prefix + ANALYSES.name
        _wait_settled(kafka, {f"{prefix}g.core": [prefix + RAW_ALERTS.name],
                              f"{prefix}g.sink.analyse": [scored_topic],
                              f"{prefix}g.sink.jira": [scored_topic, analyses_topic],
                              f"{prefix}g.sink.servicenow": [scored_topic, analyses_topic]})
        # The raw topic also carries the core's own asset-graph messages: not alerts.
        raw = [m for m in _read(kafka, prefix + RAW_ALERTS.name) if not is_link(dict(m.headers() or []))]
        scored_msgs = _read(kafka, prefix + SCORED_ALERTS.name)
        dead = [serde.decode(m.value(), DeadLetter, topic=prefix + DLQ.name) for m in _read(kafka, prefix + DLQ.name)]
        scored = [serde.decode(m.value(), ScoredAlert, topic=prefix + SCORED_ALERTS.name) for m in scored_msgs]
        own = [s for s in scored if not s.incident_update]  # the rest: members re-emitted for their incident
        kinds = Counter(s.update_kind for s in own)
        rejected = sum(1 for d in dead if d.stage == "core")
        alerts = len(raw) - rejected
        _say("normalise", f"{len(raw)} raw -> {alerts} normalised and enriched alerts ({rejected} dead-lettered)")
        _say("score", f"{alerts} alerts -> {len(own)} scored: {kinds[UpdateKind.NEW]} new, "
                      f"{kinds[UpdateKind.STATUS_CHANGE]} status changes, {kinds[UpdateKind.RECURRENCE]} recurrences; "
                      f"{alerts - len(own)} duplicates dropped; {len(scored) - len(own)} incident members re-emitted")
        if dead:
            _say("dlq", f"{len(dead)} records on {prefix}{DLQ.name}, e.g. [{dead[0].stage}] {dead[0].error_message}")

        latest: dict[tuple[str, str], ScoredAlert] = {}
        for s in scored:
            latest[(s.alert.resource.asset_id, s.alert.alert_id)] = s
        open_now = [s for s in latest.values() if s.alert.status.value == "open"]
        tiers = Counter(s.tier.value for s in open_now)
        print(f"\nOpen risks by tier: " + ", ".join(f"{t} {tiers.get(t, 0)}" for t in ("critical", "high", "medium", "low")))
        print("\nTop risks")
        for rank, s in enumerate(sorted(open_now, key=lambda x: -x.score)[:5], 1):
            print(f"  {rank}. {_describe(s)}")
            top = sorted(s.factors, key=lambda f: -f.contribution)[:3]
            print("       because " + "; ".join(f"{f.name} +{f.contribution:.0f} ({f.reason})" for f in top))
        incidents = [s for s in open_now if s.incident_id and len(s.incident_members) >= 2]
        if incidents:
            best = max(incidents, key=lambda s: (len(s.incident_members), s.score))
            print(f"\nCorrelated incident {best.incident_id} on {best.alert.resource.asset_id}:")
            for member in best.incident_members:
                match = next((s for s in latest.values() if s.alert.alert_id == member), None)
                label = f"{match.alert.module.value:<4} {match.alert.policy_name[:70]}" if match else member
                print(f"    - {member}: {label}")
        journey = max(incidents or open_now or scored, key=lambda s: s.score)
        print(f"\nOne alert's journey: {journey.alert.alert_id}")
        raw_hit, raw_record = next(
            (m, r) for m in raw if m.key().decode() == journey.alert.resource.asset_id
            and (r := serde.decode(m.value(), RawAlert, topic=prefix + RAW_ALERTS.name)).source_alert_id
            == journey.alert.alert_id)
        print(f"  1. {RAW_ALERTS.name}[{raw_hit.partition()}]@{raw_hit.offset()}  key={raw_hit.key().decode()}  "
              f"source={raw_record.source.value} received={raw_record.received_at:%H:%M:%S.%f} "
              f"payload={len(raw_record.payload_json)} bytes of Prisma JSON")
        e = journey.alert.enrichment
        print(f"  2. core stage  normalised and enriched: "
              f"module={journey.alert.module.value} severity={journey.alert.severity.value} "
              f"exposed={e.internet_exposed} kev={e.in_kev} exploitability={e.exploitability:.2f} "
              f"criticality={e.criticality.value} env={e.environment.value} owner={e.owner or '-'}")
        print(f"  3. {SCORED_ALERTS.name}  score={journey.score} tier={journey.tier.value} "
              f"update={journey.update_kind.value} incident={journey.incident_id or '-'}")
        tickets = _report_downstream(kafka, serde, prefix, journey, trackers, demo.audit.keyring())
        from streams.devtools.remediation_demo import run_remediation_demo  # lazy: needs moto, a development dependency
        print("\nOne fix, from alert to approval to execution")
        fix = run_remediation_demo(kafka, open_now, prefix + "fix.", _say, demo.audit)
        print(json.dumps({"summary": {"raw": len(raw), "alerts": alerts, "scored": len(scored),
                                       "dead_letters": len(dead), "incidents": len({s.incident_id for s in incidents}),
                                       **tickets, "fixed": fix.get("fixed", False)},
                          "framing": serde.mode, "prefix": prefix,
                          "elapsed_s": round(time.monotonic() - started_at, 1)}))
        if not scored or not alerts:
            raise PrismaflowError("the pipeline produced no scored alerts")
        return 0
    finally:
        for sink in sinks:
            sink.stop()
        sinks.clear()
        for worker in workers:
            worker.stop()
        workers.clear()
        for app in served:
            app.stop()
        serde.close()
        registry.stop()
        gc.collect()  # release every Kafka client before the broker goes, so none reconnects noisily
        if broker is not None:
            broker.stop()
            _say("broker", "stopped (run `prismaflow broker start` to keep one running between demos)")
        sys.stdout.flush()
