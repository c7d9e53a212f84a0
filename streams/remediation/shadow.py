"""``prismaflow report shadow``: over the scored topic (optionally a time range), what the configured
rollout mode did and what a stricter and a looser one would have done, with counts and examples.

The plans come from the remediation requests on ``prisma.remediations`` (the latest per alert), so
a plan proposed under one mode is judged under the others. Reads committed records only.
"""

from __future__ import annotations

import argparse
import json

from processors.models import ScoredAlert
from processors.records import RemediationRequest
from processors.remediation.plan import RemediationPlan
from processors.remediation.shadow import VARIANTS, shadow_report
from streams.compose import build_serde
from streams.config import PrismaflowSettings
from streams.remediation.policy import load_rollout_policy
from streams.topic_reader import read_to_end
from streams.topics import REMEDIATIONS, SCORED_ALERTS

__all__ = ["run_shadow_report"]


def run_shadow_report(args: argparse.Namespace, settings: PrismaflowSettings) -> int:
    """Print the shadow report (``args``: ``since``, ``until``, ``json``); exit code 0."""
    prefix, serde = settings.worker.topic_prefix, build_serde(settings)
    policy = load_rollout_policy(settings.remediation.rollout_policy_file)
    scored_topic, requests_topic = prefix + SCORED_ALERTS.name, prefix + REMEDIATIONS.name
    scored = []
    for message in read_to_end(settings.kafka, scored_topic, purpose="shadow-report"):
        record = serde.decode(message.value() or b"", ScoredAlert, topic=scored_topic)
        if (args.since is None or record.scored_at >= args.since) and (args.until is None or record.scored_at < args.until):
            scored.append(record)
    plans: dict[str, RemediationPlan] = {}
    for message in read_to_end(settings.kafka, requests_topic, purpose="shadow-report"):
        request = serde.decode(message.value() or b"", RemediationRequest, topic=requests_topic)
        plan = request.plan()
        if plan is not None:
            plans[request.alert_id] = plan
    report = shadow_report(scored, plans, policy, ticket_min_tier=settings.tickets.min_tier)
    if args.json:
        print(json.dumps({"policy_digest": policy.digest(), **{v: report[v].as_json() for v in VARIANTS}}, indent=2))
        return 0
    print(f"shadow report over {scored_topic}: {report['configured'].alerts} alerts, policy "
          f"{settings.remediation.rollout_policy_file} ({policy.digest()[:12]})")
    print(f"{'mode':12} {'tickets':>8} {'approvals':>10} {'auto runs':>10}  examples")
    for variant in VARIANTS:
        counts = report[variant]
        examples = "; ".join(f"{what}: {', '.join(ids)}" for what, ids in counts.examples.items() if ids)
        print(f"{variant:12} {counts.tickets:>8} {counts.approval_requests:>10} {counts.auto_runs:>10}  {examples}")
    return 0
