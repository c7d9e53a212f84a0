"""The Jira client against the simulator: create, find by fingerprint, comment, workflow, errors."""

from __future__ import annotations

import logging

import httpx
import pytest
from pydantic import SecretStr

from connectors.base import (
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    RetriesExhaustedError,
    RetryPolicy,
    TransientError,
)
from connectors.jira.adf.documents import text_comment
from connectors.jira.client import JiraClient, WorkflowError, error_details
from connectors.jira.models import IssueDraft, SyncProperty
from connectors.jira.settings import BasicAuth, BearerAuth, JiraSettings, OwnerRoute
from connectors.jira.simulator import (
    SimClock,
    Status,
    Transition,
    Workflow,
)
from connectors.jira.tickets import content_hash, draft_issue
from tests.connectors.jira.conftest import (
    SITE,
    ClientFactory,
    SettingsFactory,
    SimFactory,
    sim_issues,
    sim_stats,
)
from tests.factories import (
    make_alert,
    make_analysis,
    make_enrichment,
    make_scored_alert,
)

FP = "3f1c0b9e" * 8  # a sha256-like fingerprint


def draft(settings: JiraSettings, **overrides: object) -> IssueDraft:
    base = draft_issue(make_scored_alert(), make_analysis(), settings, fingerprint=FP)
    return base.model_copy(update=overrides)


async def create(jira: JiraClient, fingerprint: str = FP, **overrides: object) -> str:
    created = await jira.create_issue(draft(jira.settings, **overrides),
                                      sync=SyncProperty(fingerprint=fingerprint,
                                                        last_synced_hash="h1"))
    return created.key


# -- create -------------------------------------------------------------------------------------


async def test_create_with_all_fields(jira: JiraClient, http: httpx.AsyncClient,
                                      make_settings: SettingsFactory,
                                      make_client: ClientFactory) -> None:
    settings = make_settings(
        components=("cloud-security",),
        owners={"payments": OwnerRoute(project_key="OPS", components=("payments",),
                                       assignee="5b10ac8d82e05b22cc7d4ef5", labels=("team-pay",))},
    )
    scored = make_scored_alert(alert=make_alert(enrichment=make_enrichment(team="payments")))
    issue_draft = draft_issue(scored, make_analysis(), settings, fingerprint=FP)
    created = await make_client(settings).create_issue(
        issue_draft, sync=SyncProperty(fingerprint=FP, last_synced_hash=content_hash(issue_draft),
                                       alert_ids=["P-4711"]))
    assert created.key == "OPS-1" and created.id and created.self_url.endswith(created.id)
    [stored] = await sim_issues(http)
    fields = stored["fields"]
    assert fields["summary"] == ("[CRITICAL 87] AWS EC2 instance with IMDSv1 enabled and public IP "
                                 "on payments-api-1")
    assert fields["priority"] == {"name": "Highest"}  # analysis P1 wins over the tier
    assert fields["issuetype"] == {"name": "Task"}
    assert fields["project"]["key"] == "OPS"
    assert fields["labels"] == ["prismaflow", "team-pay", "tier-critical", "module-cspm",
                                f"prismaflow-fp-{FP}"]
    assert fields["components"] == [{"name": "cloud-security"}, {"name": "payments"}]
    assert fields["assignee"]["accountId"] == "5b10ac8d82e05b22cc7d4ef5"
    assert fields["description"]["type"] == "doc"
    assert fields["status"]["name"] == "To Do" and fields["resolution"] is None
    prop = stored["properties"]["prismaflow.sync"]
    assert prop["fingerprint"] == FP and prop["alert_ids"] == ["P-4711"]
    assert prop["last_synced_hash"] == content_hash(issue_draft)


async def test_summary_is_one_line_and_capped() -> None:
    settings = JiraSettings(base_url=SITE, auth=BearerAuth(token=SecretStr("x")))
    scored = make_scored_alert(alert=make_alert(policy_name="x\ny " * 200))
    summary = draft_issue(scored, None, settings).summary
    assert len(summary) <= 255 and "\n" not in summary
    assert draft_issue(scored, None, settings).priority == "Highest"  # tier critical, no analysis


async def test_issue_keys_count_up_per_project(jira: JiraClient) -> None:
    keys = [await create(jira, f"fp{i}") for i in range(3)]
    assert keys == ["SEC-1", "SEC-2", "SEC-3"]
    assert await create(jira, "fp-ops", project_key="OPS") == "OPS-1"


# -- idempotency --------------------------------------------------------------------------------


async def test_find_by_fingerprint_finds_an_issue_created_before_a_crash(
    jira: JiraClient, http: httpx.AsyncClient
) -> None:
    assert await jira.find_by_fingerprint(FP) is None
    key = await create(jira)  # ... and the sink crashes before recording the ticket state
    found = await jira.find_by_fingerprint(FP)
    assert found is not None and found.key == key and found.status == "To Do"
    assert found.properties["prismaflow.sync"]["fingerprint"] == FP
    assert await jira.find_by_fingerprint("another") is None
    assert len(await sim_issues(http)) == 1
    stats = await sim_stats(http)
    assert stats["POST /rest/api/3/search/jql"]["statuses"] == {"200": 3}


async def test_duplicates_return_the_oldest_and_warn(jira: JiraClient,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    first = await create(jira)
    await create(jira)
    with caplog.at_level(logging.WARNING):
        found = await jira.find_by_fingerprint(FP)
    assert found is not None and found.key == first
    assert "jira duplicate issues for fingerprint count=2" in caplog.text


async def test_property_lookup_needs_an_indexed_property(
    make_sim: SimFactory, make_settings: SettingsFactory, clock: SimClock
) -> None:
    settings = make_settings(fingerprint_lookup="property")
    for indexed, expected in ((frozenset(), None), (frozenset({"prismaflow.sync"}), "SEC-1")):
        sim = make_sim(indexed_properties=indexed)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim)) as http:
            jira = JiraClient(settings, client=http)
            await create(jira)
            found = await jira.find_by_fingerprint(FP)
            assert (found.key if found else None) == expected


async def test_search_pages_with_next_page_token(jira: JiraClient, http: httpx.AsyncClient) -> None:
    for i in range(7):
        await create(jira, f"fp{i}")
    keys = [i.key async for i in jira.search('project = SEC AND labels = "prismaflow" '
                                             "ORDER BY key ASC", page_size=3)]
    assert keys == [f"SEC-{n}" for n in range(1, 8)]
    stats = await sim_stats(http)
    assert stats["POST /rest/api/3/search/jql"]["calls"] == 3
    open_keys = [i.key async for i in jira.search("project = SEC AND statusCategory != Done",
                                                  limit=2)]
    assert open_keys == ["SEC-1", "SEC-2"]


# -- sync property, updates, comments ---------------------------------------------------------


async def test_sync_property_round_trip(jira: JiraClient) -> None:
    key = await create(jira)
    assert (await jira.get_sync(key)) == SyncProperty(fingerprint=FP, last_synced_hash="h1")
    await jira.set_sync(key, SyncProperty(fingerprint=FP, last_synced_hash="h2"))
    sync = await jira.get_sync(key)
    assert sync is not None and sync.last_synced_hash == "h2"
    assert await jira.get_property(key, "absent") is None


async def test_update_priority_and_labels_keeps_labels_people_added(
    jira: JiraClient, http: httpx.AsyncClient
) -> None:
    key = await create(jira)
    await jira.update_issue(key, add_labels=["by-hand"])
    await jira.update_issue(key, priority="Low", add_labels=["recurred"],
                            remove_labels=["tier-critical"])
    issue = await jira.get_issue(key)
    assert issue.priority == "Low"
    assert "by-hand" in issue.labels and "recurred" in issue.labels
    assert "tier-critical" not in issue.labels and f"prismaflow-fp-{FP}" in issue.labels


async def test_comments(jira: JiraClient, http: httpx.AsyncClient) -> None:
    key = await create(jira)
    first = await jira.add_comment(key, text_comment(["Alert P-4711 seen again"], title="Recurrence"))
    second = await jira.add_comment(key, text_comment(["Score 87 → 91"]))
    assert first != second
    [stored] = await sim_issues(http)
    assert [c["content"][-1]["content"][0]["text"] for c in stored["comments"]] == [
        "Alert P-4711 seen again", "Score 87 → 91"]


# -- workflow -----------------------------------------------------------------------------------


async def test_resolve_walks_to_done_and_reopen_comes_back(jira: JiraClient,
                                                           http: httpx.AsyncClient) -> None:
    key = await create(jira)
    done = await jira.resolve(key, comment=text_comment(["Alert resolved in Prisma Cloud"]))
    assert done.status == "Done" and done.is_done and done.resolution == "Done"
    assert (await jira.resolve(key)).status == "Done"  # already there: nothing sent
    reopened = await jira.reopen(key, comment=text_comment(["Alert reopened"]))
    assert reopened.status == "To Do" and reopened.resolution is None
    assert (await jira.reopen(key)).status == "To Do"
    stats = await sim_stats(http)
    # To Do → In Progress (Start Progress) → Done, then Reopen
    assert stats["POST /rest/api/3/issue/{key}/transitions"]["statuses"] == {"204": 3}
    [stored] = await sim_issues(http)
    assert len(stored["comments"]) == 2


async def test_transition_by_name_is_case_insensitive_and_returns_none_when_absent(
    jira: JiraClient,
) -> None:
    key = await create(jira)
    taken = await jira.transition(key, ["start progress"])
    assert taken is not None and taken.to_status == "In Progress"
    assert taken.to_category == "indeterminate"
    assert await jira.transition(key, ["Reopen"]) is None
    done = await jira.transition(key, ["Close Issue"], categories=("done",))
    assert done is not None and done.name == "Done"


async def test_custom_workflow_and_missing_path(make_settings: SettingsFactory,
                                                make_sim: SimFactory) -> None:
    statuses = {s.name: s for s in (Status("1", "Open", "new"), Status("6", "Closed", "done"))}
    one_way = Workflow(statuses, "Open", (Transition("2", "Close Issue", ("Open",), "Closed"),))
    sim = make_sim(workflow=one_way)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim)) as http:
        jira = JiraClient(make_settings(), client=http)
        key = await create(jira)
        assert (await jira.resolve(key)).status == "Closed"
        with pytest.raises(WorkflowError, match="no transition out of done"):
            await jira.reopen(key)


# -- retries and errors -------------------------------------------------------------------------


async def test_429_waits_the_retry_after_jira_sent(jira: JiraClient, http: httpx.AsyncClient,
                                                   sleeps: list[float]) -> None:
    await http.post(f"{SITE}/_sim/faults", json={"kind": "429", "route": "/rest/api/3/issue",
                                                 "count": 2, "retry_after_s": 7})
    assert await create(jira) == "SEC-1"
    assert sleeps == [7.0, 7.0]
    stats = await sim_stats(http)
    assert stats["POST /rest/api/3/issue"]["statuses"] == {"429": 2, "201": 1}


async def test_token_bucket_429_carries_jira_headers_and_is_honoured(
    make_sim: SimFactory, make_settings: SettingsFactory, clock: SimClock
) -> None:
    sim = make_sim(rate_per_s=0.5, burst=3)
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.advance(seconds)

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim)) as http:
        raw = await http.get(f"{SITE}/rest/api/3/myself", auth=("bot@example.com", "sim-api-token"))
        assert raw.headers["X-RateLimit-Limit"] == "3"
        for _ in range(2):
            await http.get(f"{SITE}/rest/api/3/myself", auth=("bot@example.com", "sim-api-token"))
        limited = await http.get(f"{SITE}/rest/api/3/myself",
                                 auth=("bot@example.com", "sim-api-token"))
        assert limited.status_code == 429
        assert limited.headers["Retry-After"] == "2" == limited.headers["Beta-Retry-After"]
        assert limited.headers["RateLimit-Reason"] == "jira-burst-based"
        assert limited.headers["X-RateLimit-NearLimit"] == "true"
        assert limited.headers["X-RateLimit-Reset"].endswith("Z")
        assert limited.json()["errorMessages"] == ["Rate limit exceeded."]
        jira = JiraClient(make_settings(), client=http, sleep=sleep, rng=lambda: 1.0)
        assert (await jira.myself())["accountId"] == "bot@example.com"
        assert sleeps == [2.0]


async def test_a_minute_long_outage_is_survived_within_the_policy(
    make_settings: SettingsFactory, make_client: ClientFactory, http: httpx.AsyncClient,
    sleeps: list[float],
) -> None:
    await http.post(f"{SITE}/_sim/faults", json={"kind": "5xx", "status": 503, "duration_s": 60})
    policy = RetryPolicy(max_attempts=8, base_delay_s=2, max_delay_s=30)
    jira = make_client(make_settings(retry=policy))
    assert await create(jira) == "SEC-1"
    assert sum(sleeps) >= 60 and len(sleeps) <= 7
    stats = await sim_stats(http)
    assert stats["POST /rest/api/3/issue"]["statuses"]["503"] == len(sleeps)


async def test_an_outage_longer_than_the_policy_surfaces_as_transient(
    jira: JiraClient, http: httpx.AsyncClient, sleeps: list[float]
) -> None:
    await http.post(f"{SITE}/_sim/faults", json={"kind": "5xx", "status": 503, "duration_s": 600,
                                                 "retry_after_s": 5})
    with pytest.raises(RetriesExhaustedError) as caught:
        await create(jira)
    assert isinstance(caught.value.last_error, TransientError)
    assert caught.value.status_code == 503 and caught.value.attempts == 5
    assert sleeps == [5.0] * 4
    assert await sim_issues(http) == []
    await http.delete(f"{SITE}/_sim/faults")
    assert await create(jira) == "SEC-1"  # once Jira is back the same call goes through


async def test_500_is_retried(jira: JiraClient, http: httpx.AsyncClient, sleeps: list[float]) -> None:
    await http.post(f"{SITE}/_sim/faults", json={"kind": "5xx", "status": 500, "count": 1,
                                                 "route": "/rest/api/3/issue/{key}"})
    key = await create(jira)
    assert (await jira.get_issue(key)).key == key and sleeps == [0.5]


async def test_400_is_not_retried_and_carries_jiras_messages(
    jira: JiraClient, http: httpx.AsyncClient, sleeps: list[float]
) -> None:
    with pytest.raises(BadRequestError) as caught:
        await create(jira, priority="Urgent!!")
    error = caught.value
    assert error.status_code == 400 and sleeps == []
    assert "priority: The priority selected is invalid." in str(error)
    assert error_details(error).errors == {"priority": "The priority selected is invalid."}
    assert (await sim_stats(http))["POST /rest/api/3/issue"]["calls"] == 1


async def test_invalid_adf_and_long_summary_are_rejected_like_jira(jira: JiraClient) -> None:
    bad = IssueDraft(project_key="SEC", issue_type="Task", summary="x",
                     description={"type": "doc", "version": 2, "content": []})
    with pytest.raises(BadRequestError, match="description: Operation value must be an Atlassian"):
        await jira.create_issue(bad)
    raw = {"fields": {"project": {"key": "SEC"}, "issuetype": {"name": "Task"}, "summary": "s" * 256}}
    with pytest.raises(BadRequestError, match="Summary must be less than 255"):
        await jira._send("POST", "/issue", json_body=raw)


async def test_unknown_issue_is_not_found(jira: JiraClient) -> None:
    with pytest.raises(NotFoundError) as caught:
        await jira.get_issue("SEC-999")
    assert error_details(caught.value).error_messages == [
        "Issue does not exist or you do not have permission to see it."]


async def test_bad_credentials_and_read_only_user(make_settings: SettingsFactory,
                                                  make_client: ClientFactory) -> None:
    wrong = make_client(make_settings(auth=BasicAuth(email="bot@example.com",
                                                     api_token=SecretStr("nope"))))
    with pytest.raises(AuthenticationError) as caught:
        await wrong.myself()
    assert caught.value.status_code == 401 and "nope" not in str(caught.value)
    viewer = make_client(make_settings(auth=BasicAuth(email="viewer@example.com",
                                                      api_token=SecretStr("sim-viewer-token"))))
    assert (await viewer.myself())["accountId"] == "viewer@example.com"
    with pytest.raises(AuthenticationError) as caught:
        await create(viewer)
    assert caught.value.status_code == 403


async def test_secrets_never_reach_the_logs(jira: JiraClient, http: httpx.AsyncClient,
                                            caplog: pytest.LogCaptureFixture) -> None:
    await http.post(f"{SITE}/_sim/faults", json={"kind": "5xx", "count": 1})
    with caplog.at_level(logging.DEBUG):
        await create(jira)
    assert "sim-api-token" not in caplog.text and "Authorization" not in caplog.text


# -- Data Center --------------------------------------------------------------------------------


async def test_data_center_flavour_uses_v2_wiki_and_bearer(
    make_settings: SettingsFactory, make_sim: SimFactory
) -> None:
    sim = make_sim(flavour="datacenter")
    settings = make_settings(flavour="datacenter", auth=BearerAuth(token=SecretStr("sim-pat")),
                             owners={"payments": OwnerRoute(assignee="jdoe")})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim)) as http:
        jira = JiraClient(settings, client=http)
        issue_draft = draft_issue(make_scored_alert(), make_analysis(), settings, fingerprint=FP)
        assert isinstance(issue_draft.description, str)
        assert issue_draft.description.startswith("Prisma Cloud alert [P\\-4711|")
        created = await jira.create_issue(issue_draft, sync=SyncProperty(fingerprint=FP))
        assert created.key == "SEC-1"
        found = await jira.find_by_fingerprint(FP)
        assert found is not None and found.key == "SEC-1"
        await jira.add_comment("SEC-1", "Seen *again*")
        assert (await jira.resolve("SEC-1")).is_done
        with pytest.raises(TypeError):
            await jira.add_comment("SEC-1", text_comment(["adf is for cloud"]))
        stats = await sim_stats(http)
        assert set(stats) >= {"POST /rest/api/2/issue", "GET /rest/api/2/search",
                              "POST /rest/api/2/issue/{key}/comment",
                              "POST /rest/api/2/issue/{key}/transitions"}
        assert not [k for k in stats if "/rest/api/3/" in k]
        [stored] = await sim_issues(http)
        assert stored["fields"]["assignee"] == {"name": "jdoe"}
        assert stored["comments"] == ["Seen *again*"]
        v3 = await http.get(f"{SITE}/rest/api/3/myself", headers={"Authorization": "Bearer sim-pat"})
        assert v3.status_code == 404
