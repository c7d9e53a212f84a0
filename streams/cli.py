"""The ``prismaflow`` command line: one entry point for every operator task.

Each sub-command is a small function taking the parsed arguments and the settings tree and returning
the exit code; it imports the layers it runs inside itself, for start-up speed only (``prismaflow
--help`` loads neither librdkafka, Avro, the stages nor the openai SDK), never to dodge an import cycle;
errors of ours (:class:`PrismaflowError`) are printed as one clear line and give exit code 2, so no
operator ever reads a traceback for a missing Java or a broker that is down.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from processors.errors import PrismaflowError
from streams.config import PrismaflowSettings, check_variables, load_settings
from streams.config_reference import effective_settings, render_effective, render_reference
from streams.cli_arguments import DEV_OPTIONS, add_command_arguments
from streams.settings import default_home
from streams.topics import AUDIT, CATALOGUE, create_topics

__all__ = ["main", "build_parser"]

Handler = Callable[[argparse.Namespace, PrismaflowSettings], int]


def _broker(args: argparse.Namespace, settings: PrismaflowSettings) -> int:
    from streams.devtools.broker import LocalBroker  # lazy: development tool, imported only when it runs

    broker = LocalBroker(settings.broker)
    if args.action == "start":
        before = broker.status()
        status = broker.start()
        print(("already running: " if before.running else "started: ") + status.describe())
    elif args.action == "stop":
        print("stopped" if broker.stop() else "not running")
    else:
        status = broker.status()
        print(status.describe())
        return 0 if status.running else 1
    return 0


def _registry(args: argparse.Namespace, settings: PrismaflowSettings) -> int:
    from streams.devtools.registry import DEFAULT_PORT, LocalSchemaRegistry  # lazy: development tool, imported only when it runs

    registry = LocalSchemaRegistry(default_home() / "registry", DEFAULT_PORT,
                                   install_dir=default_home() / "registry" / "build")
    if args.action == "start":
        registry.start()
        print(f"registry running at {registry.url} (set SCHEMA_REGISTRY_URL to use it)")
    elif args.action == "stop":
        registry.stop()
        print("stopped")
    else:
        status = registry.status()
        print(f"registry {'running' if status.running else 'stopped'} url={status.url}")
        return 0 if status.running else 1
    return 0


def _schemas(args: argparse.Namespace, settings: PrismaflowSettings) -> int:
    from streams.schema_registration import run_schemas  # lazy: start-up speed, only the layers this command runs

    return run_schemas(args.action, settings)


def _topics(args: argparse.Namespace, settings: PrismaflowSettings) -> int:
    from streams.kafka_clients import KafkaClients  # lazy: start-up speed, librdkafka loads only when needed

    prefix = settings.worker.topic_prefix
    if args.action == "list":
        from streams.operator.topics_view import describe_topics, render_json, render_table  # lazy: start-up speed

        views = describe_topics(KafkaClients(settings.kafka), prefix)
        print((render_json if args.json else render_table)(views), end="")
        return 0
    admin = KafkaClients(settings.kafka).admin()
    result = create_topics(admin, replication_factor=settings.kafka.topic_replication_factor, prefix=prefix)
    for name in result.created:
        print(f"created  {name}")
    for name in result.existing:
        print(f"exists   {name}")
    return 0


def _config(args: argparse.Namespace, settings: PrismaflowSettings) -> int:
    """The reference (``--reference``), or every setting's effective value and origin, secrets masked."""
    if args.reference:
        print(render_reference(), end="")
        return 0
    rows = effective_settings()
    if args.json:
        print(json.dumps([row.model_dump(mode="json") for row in rows], indent=2))
    else:
        print(render_effective(rows), end="")
    return 0


def _run(args: argparse.Namespace, settings: PrismaflowSettings) -> int:
    if args.stage == "analyse":
        from streams.sinks import run_analysis  # lazy: start-up speed, only the layers this command runs

        return run_analysis(settings)
    if args.stage in ("remediate", "execute"):
        from streams.remediation.run import run_remediation_stage  # lazy: start-up speed, only this stage's layers

        return run_remediation_stage(args.stage, settings)
    from streams.run import run_stage  # lazy: start-up speed, only the layers this command runs

    return run_stage(args.stage, settings)


def _sink(args: argparse.Namespace, settings: PrismaflowSettings) -> int:
    from streams.sinks import run_sink  # lazy: start-up speed, only the layers this command runs

    return run_sink(args.name, settings)


def _sync(args: argparse.Namespace, settings: PrismaflowSettings) -> int:
    from streams.sinks import run_sync  # lazy: start-up speed, only the layers this command runs

    return run_sync(args.tracker, settings)


def _eval(args: argparse.Namespace, settings: PrismaflowSettings) -> int:
    """``prismaflow eval [analysis|tiers]``: both reports by default, one when named."""
    targets = [args.target] if args.target else ["analysis", "tiers"]
    if args.data and len(targets) > 1:
        print("prismaflow eval: --data belongs to one evaluation; name it: eval analysis|tiers --data FILE",
              file=sys.stderr)
        return 2
    documents: dict[str, object] = {}
    texts: list[str] = []
    if "analysis" in targets:
        from streams.analysis.evaluation import DEFAULT_LABELLED_PATH, evaluate_analysis  # lazy: start-up speed

        analysis = evaluate_analysis(Path(args.data) if args.data else DEFAULT_LABELLED_PATH,
                                     llm_simulator=args.llm_simulator)
        documents["analysis"] = analysis.model_dump(mode="json")
        texts.append("== analysis stage ==\n" + analysis.render())
    if "tiers" in targets:
        from connectors.feeds.store import load_default_feeds  # lazy: start-up speed, feeds load only here
        from processors.enrich import EnrichmentContext  # lazy: start-up speed, only the layers this command runs
        from processors.tier_evaluation import evaluate_tiers  # lazy: start-up speed, only the layers this command runs
        from streams.static_inputs import DEFAULT_SCENARIOS_PATH, load_scenarios, load_scoring_policy  # lazy: start-up speed, only the layers this command runs

        scenarios = load_scenarios(Path(args.data) if args.data else DEFAULT_SCENARIOS_PATH)
        tiers = evaluate_tiers(scenarios, EnrichmentContext(feeds=load_default_feeds()), load_scoring_policy())
        documents["tiers"] = tiers.model_dump(mode="json")
        texts.append("== risk tiers ==\n" + tiers.render())
    if args.json:
        print(json.dumps(documents[targets[0]] if len(targets) == 1 else documents, indent=2))
    else:
        print("\n\n".join(texts))
    return 0


def _poll(args: argparse.Namespace, settings: PrismaflowSettings) -> int:
    from streams.sources import run_pollers  # lazy: start-up speed, only the layers this command runs

    return run_pollers(settings)


def _webhook(args: argparse.Namespace, settings: PrismaflowSettings) -> int:
    from streams.sources import run_webhook  # lazy: start-up speed, only the layers this command runs

    return run_webhook(settings)


def _audit(args: argparse.Namespace, settings: PrismaflowSettings) -> int:
    if args.action == "keygen":
        return _audit_keygen(args)
    from streams.audit import verify_audit  # lazy: start-up speed, only the layers this command runs
    from streams.compose import build_serde  # lazy: start-up speed, only the layers this command runs

    topic = args.topic or settings.worker.topic_prefix + AUDIT.name
    keyring = settings.audit.keyring()
    if not keyring.key_ids:
        print("no audit keys configured (PRISMAFLOW_AUDIT_SIGNING_KEY or PRISMAFLOW_AUDIT_VERIFY_KEYS__<KEY ID>): "
              "no signature can verify", file=sys.stderr)
    reports = verify_audit(settings.kafka, build_serde(settings), topic, keyring=keyring)
    if not reports:
        print(f"{topic}: no audit records")
        return 0
    print(f"{topic}: accepted keys {', '.join(keyring.key_ids) or '(none)'}")
    bad = 0
    for item in reports:
        r = item.report
        verdict = "ok" if r.ok else f"{len(r.problems)} problem(s)"
        print(f"partition {item.partition} chain {item.chain}: {r.checked} records, sequences "
              f"{r.first_sequence}..{r.last_sequence}, head {(r.head_hash or '')[:16]}: {verdict}")
        first = r.first_problem
        if first is not None:
            print(f"    first bad record: partition {item.partition} offset "
                  f"{'-' if first.offset is None else first.offset} key {item.chain} "
                  f"key_id {first.key_id or '-'}: {first.kind.value}, {first.detail}")
        for problem in r.problems:
            print(f"    {problem}")
        bad += 0 if r.ok else 1
    return 1 if bad else 0


def _audit_keygen(args: argparse.Namespace) -> int:
    """Write a new signing key to ``--out`` (owner-only, never overwritten); print its public key."""
    from processors.audit import AuditSigner, check_key_id  # lazy: start-up speed
    from streams.audit import write_signing_key  # lazy: start-up speed, only the layers this command runs

    if not args.key_id or not args.out:
        print("prismaflow audit keygen needs --key-id and --out", file=sys.stderr)
        return 2
    try:
        signer = AuditSigner.generate(check_key_id(args.key_id))
        write_signing_key(signer, Path(args.out))
    except (ValueError, FileExistsError) as exc:
        print(f"prismaflow audit keygen: {exc}", file=sys.stderr)
        return 2
    print(f"wrote signing key {signer.key_id} to {args.out}: use it as PRISMAFLOW_AUDIT_SIGNING_KEY "
          f"(the secrets file prismaflow_audit_signing_key)")
    print(f"PRISMAFLOW_AUDIT_VERIFY_KEYS__{signer.key_id.upper()}={signer.public_key_text()}")
    return 0


def _feeds(args: argparse.Namespace, settings: PrismaflowSettings) -> int:
    from streams.feeds import run_feeds  # lazy: start-up speed, only the layers this command runs

    return run_feeds(args.action, settings)


def _bench(args: argparse.Namespace, settings: PrismaflowSettings) -> int:
    from streams.devtools.bench import run_bench  # lazy: development tool, imported only when it runs

    return run_bench(args, settings)


def _chaos(args: argparse.Namespace, settings: PrismaflowSettings) -> int:
    from streams.devtools.chaos import run_chaos  # lazy: development tool, imported only when it runs

    return run_chaos(args)


def _approvals(args: argparse.Namespace, settings: PrismaflowSettings) -> int:
    from streams.remediation.run import run_approval_service  # lazy: start-up speed, loads faust only here

    return run_approval_service(settings)


def _report(args: argparse.Namespace, settings: PrismaflowSettings) -> int:
    from streams.remediation.shadow import run_shadow_report  # lazy: start-up speed, only the layers this command runs

    return run_shadow_report(args, settings)


def _console(args: argparse.Namespace, settings: PrismaflowSettings) -> int:
    from streams.console.command import console_command  # lazy: start-up speed, only the layers this command runs

    return console_command(args, settings.console, settings.remediation)


def _dlq(args: argparse.Namespace, settings: PrismaflowSettings) -> int:
    from streams.operator.dlq_command import run_dlq  # lazy: start-up speed, only the layers this command runs

    return run_dlq(args, settings)


def _replay(args: argparse.Namespace, settings: PrismaflowSettings) -> int:
    from streams.operator.replay import run_replay  # lazy: start-up speed, only the layers this command runs

    return run_replay(args, settings)


def _demo(args: argparse.Namespace, settings: PrismaflowSettings) -> int:
    if "bootstrap_servers" in settings.kafka.model_fields_set:  # its broker, probed before the pipeline loads
        from streams.operator.preflight import require_broker  # lazy: start-up speed, librdkafka

        require_broker(settings.kafka)
    from streams.demo import run_demo  # lazy: start-up speed, only the layers this command runs

    return run_demo(settings)


_COMMANDS: dict[str, tuple[str, Handler]] = {
    "broker": ("run the local Kafka broker (KRaft) for development and tests", _broker),
    "registry": ("run a local Confluent-compatible Schema Registry (Apicurio, in memory)", _registry),
    "topics": ("create or list the topics of the catalogue", _topics),
    "schemas": ("register the Avro schemas in the Schema Registry, or check them against it before a deploy",
                _schemas),
    "config": ("print every setting's effective value and where it came from (secrets masked)", _config),
    "poll": ("poll Prisma Cloud CSPM and Compute into prisma.alerts.raw until stopped", _poll),
    "webhook": ("serve the Prisma Cloud webhook receiver until stopped", _webhook),
    "run": ("run one stream stage until stopped (normalise, score, analyse; remediate, execute)", _run),
    "sink": ("run one sink until stopped (jira, servicenow, ...)", _sink),
    "sync": ("sync people's ticket changes back to Prisma Cloud (jira, servicenow) until stopped", _sync),
    "eval": ("evaluate the analysis stage and the risk tiers on their labelled sets", _eval),
    "audit": ("verify the signed audit ledger (signatures, chains, gaps) or make a signing key", _audit),
    "feeds": ("refresh the exploitability feeds (CISA KEV, FIRST EPSS) or show which ones the workers load", _feeds),
    "bench": ("benchmark the stream core on a real broker and print JSON figures", _bench),
    "chaos": ("inject faults under traffic and count what was lost or doubled (a development tool)", _chaos),
    "approvals": ("run the approval service (pending remediation requests, SLA, approval API) until stopped", _approvals),
    "report": ("reports over the topics: shadow (what a stricter or looser rollout mode would have done)", _report),
    "console": ("serve the approval console (remediation requests: review, approve, reject; Slack buttons)",
                _console),
    "dlq": ("list, show or redrive dead letters (redrive: re-checked, audited, once)", _dlq),
    "replay": ("re-triage the raw alerts of a time range through today's scoring, no ticket twice", _replay),
    "demo": ("run the pipeline end to end on the local broker and simulators", _demo),
}


_NEEDS_BROKER = frozenset({"topics", "poll", "webhook", "run", "sink", "sync", "audit", "dlq", "replay", "approvals",
                           "report"})
"""Commands that cannot do anything without the broker: they probe it first (streams.operator.preflight)."""


def _package_version() -> str:
    """The installed distribution's version (pyproject ``version``), as ``pip show prismaflow`` gives it."""
    from importlib.metadata import PackageNotFoundError, version  # lazy: only the parser needs it

    try:
        return version("prismaflow")
    except PackageNotFoundError:  # running from a checkout that was never installed
        return "unknown (not installed)"


def build_parser(*, dev_options: bool = True) -> argparse.ArgumentParser:
    """The ``prismaflow`` parser; without ``dev_options`` the bench and chaos options are left out,
    so that parsing a runtime command never imports the development tools."""
    parser = argparse.ArgumentParser(prog="prismaflow", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    parser.add_argument("--version", action="version", version=f"prismaflow {_package_version()}",
                        help="print the installed package's version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (help_text, handler) in _COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        command.set_defaults(handler=handler)
        add_command_arguments(name, command, dev_options=dev_options)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    command = next((word for word in words if not word.startswith("-")), None)
    try:  # before anything else, --help included: a misspelled variable must not go unnoticed
        check_variables()
    except PrismaflowError as exc:
        print(f"prismaflow: error: {exc}", file=sys.stderr)
        return 2
    args = build_parser(dev_options=command in DEV_OPTIONS).parse_args(words)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else (logging.INFO if args.command in ("run", "poll", "webhook", "sink", "sync") else logging.WARNING),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its INFO lines carry full URLs (webhook secrets)
    handler: Handler = args.handler
    try:
        settings = load_settings()
        # One clear line within seconds when the broker is away (making a key needs no broker).
        if args.command in _NEEDS_BROKER and getattr(args, "action", None) != "keygen":
            from streams.operator.preflight import require_broker  # lazy: start-up speed, librdkafka

            require_broker(settings.kafka, wait_s=settings.worker.start_wait_s)
        return handler(args, settings)
    except PrismaflowError as exc:
        print(f"prismaflow {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
