"""Acceptance: a secret planted in an alert reaches no person and no model.

Canaries go where an outside tester put them: an AWS access key pair in a description, a private
key block and a GitHub token in tags, a password in a connection URL and in an environment
variable of the resource data, a MySQL password and a bearer token on a Compute command line, an
access key id in a (custom) policy name. The alerts then take every real output path (see
:mod:`tests.outputs_harness`): the analysis stage with the LLM simulator keeping the prompts and
the offline analyser, Jira Cloud and Data Center and ServiceNow through the ticket sink (create,
analysis comment, update, resolve, reopen), Slack and Teams through the chat sink, and the SIEM
stage with Splunk HEC and CEF. Every captured text is searched for every canary.

Two ways in: through the stream core (normalise, enrich, score: the enrichment redacts, so the
scored topic is clean), and straight into the outputs with the canaries still in the scored alert
(an upstream that did not redact), which proves each output redacts on its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

import pytest

from connectors.slack.client import ChatKind
from processors.enrich import EnrichmentContext
from processors.models import RawAlert, RiskTier, ScoredAlert
from processors.pipeline import StageStates, normalise_and_enrich, process_for_asset
from streams.static_inputs import load_scoring_policy
from tests import outputs_harness as h
from tests.factories import make_alert, make_enrichment, make_resource_ref, make_scored_alert
from tests.processors import payloads as p

# Synthetic canaries in each provider's documented format; every one is the secret part only.
DESCRIPTION_KEY_ID = "AKIA" + "CANARYDESC000042"
DESCRIPTION_SECRET = "q7Xv9Lm2Rt5Wz8Kc1Np4Jd6Hf3Bs0Gy/Ue+Ta7Mo"
TAG_PEM_BODY = "MIIEpQIBAAKCAQEAcanaryTagKeyBody0x77"
TAG_GITHUB = "ghp_Cn4ryT4gT0k3nAbCdEfGhIjKlMnOpQrStUv"
DATA_URL_PASSWORD = "CanaryDataPw-7731"
DATA_ENV_PASSWORD = "CanaryEnvPw-4410"
COMMAND_MYSQL_PASSWORD = "CanaryCmdPw-9921"
COMMAND_BEARER = "CanaryBearer0123456789abcXYZ"
POLICY_KEY_ID = "AKIA" + "CANARYPOLICY0001"

CANARIES = {
    "description": (DESCRIPTION_KEY_ID, DESCRIPTION_SECRET),
    "tags": (TAG_PEM_BODY, TAG_GITHUB),
    "resource data": (DATA_URL_PASSWORD, DATA_ENV_PASSWORD),
    "compute command line": (COMMAND_MYSQL_PASSWORD, COMMAND_BEARER),
    "policy name": (POLICY_KEY_ID,),
}
ALL = [c for group in CANARIES.values() for c in group]

PEM = f"-----BEGIN RSA PRIVATE KEY-----\n{TAG_PEM_BODY}\nb3BlbnNzaC1rZXkBody\n-----END RSA PRIVATE KEY-----"
DESCRIPTION = (f"Bucket policy allows public read. The CI job echoed its credentials: {DESCRIPTION_KEY_ID} / "
               f"{DESCRIPTION_SECRET}.")
POLICY_NAME = f"Custom: S3 bucket readable by anyone (found key {POLICY_KEY_ID})"
TAGS = {"env": "prod", "owner": "web-team", "deploy_key": PEM, "ci": f"uses {TAG_GITHUB}"}
DATA = {"bucketName": "acme-public-assets", "policyStatus": {"isPublic": True},
        "acl": {"grants": [{"grantee": "AllUsers", "permission": "READ"}]},
        "replication": {"endpoint": f"postgres://sync:{DATA_URL_PASSWORD}@db.internal:5432/assets"},
        "Environment": {"Variables": {"DB_PASSWORD": DATA_ENV_PASSWORD, "LOG_LEVEL": "info"}}}
COMMAND = (f"/usr/bin/mysql -h db.internal -u root -p{COMMAND_MYSQL_PASSWORD} shop launched; then curl -H "
           f"'Authorization: Bearer {COMMAND_BEARER}' http://169.254.169.254/latest/meta-data/")


def raw_alerts() -> list[RawAlert]:
    """What Prisma Cloud sends, canaries included: a CSPM alert and a Compute runtime audit."""
    cspm = p.cspm_alert(policy_name=POLICY_NAME, tags=TAGS, data=DATA)
    cspm["policy"]["description"] = DESCRIPTION
    runtime = p.compute_api("runtime_audit", p.compute_audit(msg=f"Process {COMMAND}"))
    return [p.raw("cspm_api", cspm, alert_id="P-2741093"), p.raw("compute_api", runtime, alert_id="audit-1")]


def through_the_core() -> list[ScoredAlert]:
    """The raw alerts through normalise, enrich and score, as ``prismaflow run core`` does.

    The tiers are then raised to critical: the canaries must not depend on a tier's gates, and
    tickets and chat only see high and critical risks.
    """
    policy = load_scoring_policy()
    out: list[ScoredAlert] = []
    for raw in raw_alerts():
        alert = normalise_and_enrich(raw, EnrichmentContext())
        scored, _ = process_for_asset(StageStates(), alert, policy, alert.ingested_at)
        assert scored is not None
        out.append(scored.model_copy(update={"tier": RiskTier.CRITICAL, "score": 92}))
    return out


def straight_in() -> list[ScoredAlert]:
    """Scored alerts that still hold every canary: what an output gets if nothing upstream redacted."""
    config = json.dumps(DATA)
    cspm = make_alert(alert_id="P-2741093", policy_name=POLICY_NAME, description=DESCRIPTION,
                      resource=make_resource_ref(asset_id="aws:123456789012:us-east-1:bucket/acme-public-assets",
                                                 resource_id="arn:aws:s3:::acme-public-assets",
                                                 name="acme-public-assets", tags=TAGS),
                      enrichment=make_enrichment(resource_config_json=config))
    runtime = make_alert(alert_id="audit-1", policy_name="Runtime incident detected on host",
                         policy_type="workload_incident", description=f"Process {COMMAND}",
                         resource=make_resource_ref(asset_id="aws:123456789012:us-east-1:instance/i-0a1b2c3d4e5f60718",
                                                    resource_id="i-0a1b2c3d4e5f60718", name="web-1"))
    return [make_scored_alert(alert=a, tier=RiskTier.CRITICAL, score=92, incident_id=None, incident_members=[],
                              scored_at=h.T0 + timedelta(seconds=i)) for i, a in enumerate((cspm, runtime))]


def leaks(text: str) -> list[str]:
    return [c for c in ALL if c in text]


def test_the_canaries_are_really_planted_and_the_raw_record_keeps_them() -> None:
    raws = raw_alerts()
    assert set(leaks("".join(r.payload_json for r in raws))) == set(ALL)
    assert set(leaks(h.dump(straight_in()))) == set(ALL)


def test_the_scored_topic_carries_no_canary() -> None:
    scored = through_the_core()

    assert leaks(h.dump(scored)) == []
    config = json.loads(scored[0].alert.enrichment.resource_config_json)
    assert config["Environment"]["Variables"] == {"DB_PASSWORD": "[REDACTED]", "LOG_LEVEL": "info"}
    assert config["policyStatus"] == {"isPublic": True}, "the rest of the configuration is kept"


WAYS_IN: dict[str, Callable[[], list[ScoredAlert]]] = {"through the core": through_the_core,
                                                        "straight in": straight_in}


@pytest.fixture(params=sorted(WAYS_IN))
def scored(request: pytest.FixtureRequest) -> list[ScoredAlert]:
    return WAYS_IN[request.param]()


@pytest.mark.parametrize("llm", [True, False], ids=["llm", "offline"])
async def test_no_canary_in_prompts_or_analyses(scored: list[ScoredAlert], llm: bool) -> None:
    result = await h.analyse(scored, llm=llm)

    assert len(result.analyses) == len(scored)
    if llm:
        assert len(result.prompts) == len(scored), "every analysis was a model call whose prompt we read"
        assert leaks(h.dump(result.prompts)) == []
    for analysis in result.analyses:
        assert leaks(h.dump(analysis)) == [], analysis.analyser


@pytest.mark.parametrize("tracker", h.TRACKERS)
async def test_no_canary_in_tickets_comments_or_work_notes(scored: list[ScoredAlert], tracker: h.Tracker) -> None:
    analyses = (await h.analyse(scored, llm=True)).analyses

    result = await h.ticket(scored, analyses, tracker)

    assert result.failures == 0 and len(result.tickets) == len(scored)
    notes_per_ticket = [len(t["journal"]) if tracker == "servicenow" else len(t["comments"]) for t in result.tickets]
    assert all(n >= 4 for n in notes_per_ticket), "analysis, update, resolution and reopen notes were written"
    assert leaks(h.dump(result.tickets)) == []


@pytest.mark.parametrize("kind", list(ChatKind))
async def test_no_canary_in_chat_messages(scored: list[ScoredAlert], kind: ChatKind) -> None:
    messages = await h.chat(scored, kind)

    assert len(messages) == len(scored)
    assert leaks(h.dump(messages)) == []


async def test_no_canary_in_siem_events(scored: list[ScoredAlert]) -> None:
    analyses = (await h.analyse(scored, llm=False)).analyses

    result = await h.siem(scored, analyses)

    assert len(result.events) >= 2 * len(scored) and len(result.hec) == len(result.events)
    for captured in (result.events, result.hec, result.cef):
        assert leaks(h.dump(captured)) == []


def test_the_siem_can_be_given_raw_text_when_configured() -> None:
    from processors.siem import siem_event

    alert = straight_in()[0]
    assert POLICY_KEY_ID not in siem_event(alert).policy_name
    assert POLICY_KEY_ID in siem_event(alert, redact=False).policy_name
