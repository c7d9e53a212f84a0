"""One settings tree, read from the environment or a secrets folder; unknown settings are rejected."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import BaseModel, Field, ValidationError
from pydantic_settings import BaseSettings

from connectors.feeds.settings import FeedSettings
from connectors.prisma.settings import DLQ_TOPIC, RAW_ALERTS_TOPIC, PollerSettings, PrismaSettings, WebhookSettings
from connectors.servicenow.settings import ServiceNowTable
from connectors.slack.client import ChatKind, ChatWebhookSettings
from connectors.splunk.settings import SplunkHecSettings
from connectors.syslog.client import SyslogSettings
from processors.errors import ConfigurationError
from processors.models import RiskTier
from processors.tickets import SyncPolicy
from streams.cli import main
from streams.config import PrismaflowSettings, known_variables, load_settings, sections
from streams.config.root import TOOLING_VARIABLES, unknown_variables
from streams.config.source import SectionedEnvironmentSource
from streams.config_reference import MASK, effective_settings
from streams.settings import KafkaSettings
from streams.topics import DLQ, RAW_ALERTS


@pytest.fixture
def secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty secrets folder that ``PRISMAFLOW_SECRETS_DIR`` names."""
    monkeypatch.setenv("PRISMAFLOW_SECRETS_DIR", str(tmp_path))
    return tmp_path


def test_a_secret_can_come_from_a_file_in_the_secrets_folder(secrets: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (secrets / "prismaflow_prisma_secret_key").write_text("from-a-file\n")
    monkeypatch.delenv("PRISMAFLOW_PRISMA_SECRET_KEY", raising=False)
    settings = load_settings()
    assert settings.prisma.password.get_secret_value() == "from-a-file"
    assert "from-a-file" not in repr(settings)  # never printed


def test_the_environment_wins_over_the_secrets_folder(secrets: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (secrets / "prismaflow_prisma_secret_key").write_text("from-a-file")
    monkeypatch.setenv("PRISMAFLOW_PRISMA_SECRET_KEY", "from-env")
    assert load_settings().prisma.password.get_secret_value() == "from-env"


def test_kafka_settings_come_from_the_environment(set_env: Callable[[dict[str, str]], None]) -> None:
    set_env({
        "KAFKA_BOOTSTRAP_SERVERS": "kafka-1:9092,kafka-2:9092",
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": "prismaflow",
        "KAFKA_SASL_PASSWORD": "s3cret",
    })
    settings = load_settings().kafka
    assert settings.client_config()["bootstrap.servers"] == "kafka-1:9092,kafka-2:9092"
    assert settings.client_config()["sasl.password"] == "s3cret"
    assert "s3cret" not in repr(settings)


def test_every_section_reads_its_own_prefix_and_unset_ones_keep_their_defaults(set_env: Callable[[dict[str, str]], None]) -> None:
    set_env({
        "PRISMAFLOW_WORKER_MAX_BATCH": "5",
        "PRISMAFLOW_TICKETS_MIN_TIER": "critical",
        "prismaflow_poller_tenant": "acme",  # names are case-insensitive, as before
        "PRISMAFLOW_WEBHOOK_PORT": "",  # empty counts as unset
    })
    settings = load_settings()
    assert settings.worker.max_batch == 5 and settings.worker.group_prefix == "prismaflow"
    assert settings.tickets.min_tier is RiskTier.CRITICAL and settings.tickets.reopen_within_days == 30
    assert settings.poller.tenant == "acme" and settings.webhook.port == 8088


def test_unknown_fields_are_rejected_by_every_section() -> None:
    with pytest.raises(ValidationError):
        KafkaSettings(bootstrap_server="typo:9092")  # type: ignore[call-arg]


def test_a_misspelled_variable_is_named_with_the_closest_known_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRISMAFLOW_WORKER_MAX_BATCHH", "5")
    with pytest.raises(ConfigurationError) as raised:
        load_settings()
    assert str(raised.value) == ("unknown setting PRISMAFLOW_WORKER_MAX_BATCHH — did you mean "
                                 "PRISMAFLOW_WORKER_MAX_BATCH?")


def test_kafka_typos_are_caught_too_and_a_name_far_from_any_gets_no_guess() -> None:
    unknown = dict(unknown_variables({"KAFKA_BOOTSTRAP_SERVER": "x", "PRISMAFLOW_QQQ_XYZZY_PLUGH": "1", "HOME": "/root"}))
    assert unknown == {"KAFKA_BOOTSTRAP_SERVER": "KAFKA_BOOTSTRAP_SERVERS", "PRISMAFLOW_QQQ_XYZZY_PLUGH": None}


def test_librdkafka_passthrough_tooling_and_general_variables_are_known() -> None:
    environ = {"KAFKA_CONFIG__SSL_CA_LOCATION": "/ca.pem", "PRISMAFLOW_FUZZ_EXAMPLES": "10",
               "PRISMAFLOW_HOME": "/tmp/x", "PRISMAFLOW_SECRETS_DIR": "/run/secrets",
               "PRISMAFLOW_DEPS_SBIN": "/sbin", "PRISMAFLOW_LLM_LLM_MIN_SCORE": "90"}
    assert unknown_variables(environ) == []


def test_every_variable_the_repository_mentions_is_known(repo_root: Path) -> None:
    """README, deploy manifests, scripts, the Makefile and docs use these names: all must pass the check."""
    names: set[str] = set()
    for path in [repo_root / "README.md", repo_root / "Makefile", *(repo_root / "deploy").rglob("*"),
                 *(repo_root / "scripts").rglob("*"), *(repo_root / "docs").rglob("*.md")]:
        if path.is_file():
            names |= set(re.findall(r"\b(?:PRISMAFLOW|KAFKA)_[A-Z0-9_]*[A-Z0-9]\b", path.read_text(errors="replace")))
    # The compose file's broker container reads the apache/kafka image's own KAFKA_* variables: not ours.
    compose = (repo_root / "deploy").rglob("*compose*")
    image_only = {n for path in compose if path.is_file()
                  for n in re.findall(r"^\s+(KAFKA_[A-Z_]+):", path.read_text(), re.M)}
    misspelled_on_purpose = {"PRISMAFLOW_WORKER_MAX_BATCHH"}  # the README's example of the check
    assert set(dict(unknown_variables({name: "x" for name in names - image_only - misspelled_on_purpose}))) == set()


def test_a_refused_value_names_its_variable_and_never_echoes_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRISMAFLOW_WORKER_MAX_BATCH", "not-a-number-s3cret")
    with pytest.raises(ConfigurationError) as raised:
        load_settings()
    assert "PRISMAFLOW_WORKER_MAX_BATCH" in str(raised.value) and "s3cret" not in str(raised.value)


def test_the_effective_configuration_shows_values_and_origins_and_masks_secrets(
    secrets: Path, set_env: Callable[[dict[str, str]], None],
) -> None:
    (secrets / "prismaflow_jira_api_token").write_text("jira-s3cret\n")
    set_env({
        "PRISMAFLOW_WORKER_MAX_BATCH": "7",
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "PLAIN",
        "KAFKA_SASL_USERNAME": "prismaflow",
        "KAFKA_SASL_PASSWORD": "kafka-s3cret",
    })
    rows = {row.variable: row for row in effective_settings()}
    assert set(rows) == set(known_variables()) - set(TOOLING_VARIABLES)  # tooling: not the program's
    assert (rows["PRISMAFLOW_SECRETS_DIR"].value, rows["PRISMAFLOW_SECRETS_DIR"].origin.value) == (
        str(secrets), "environment")
    assert (rows["PRISMAFLOW_WORKER_MAX_BATCH"].value, rows["PRISMAFLOW_WORKER_MAX_BATCH"].origin.value) == (
        "7", "environment")
    assert (rows["PRISMAFLOW_JIRA_API_TOKEN"].value, rows["PRISMAFLOW_JIRA_API_TOKEN"].origin.value) == (
        MASK, "secrets file")
    assert (rows["KAFKA_SASL_PASSWORD"].value, rows["KAFKA_SASL_PASSWORD"].origin.value) == (MASK, "environment")
    assert (rows["PRISMAFLOW_WORKER_GROUP_PREFIX"].value, rows["PRISMAFLOW_WORKER_GROUP_PREFIX"].origin.value) == (
        "prismaflow", "default")
    assert rows["PRISMAFLOW_LLM_API_KEY"].value == "(unset)"
    assert rows["PRISMAFLOW_SPLUNK_TOKEN"].value == MASK  # a default secret is masked as well


def test_a_mapping_set_entry_by_entry_shows_where_its_entries_came_from_and_masks_secret_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KAFKA_CONFIG__SASL_PASSWORD", "passthrough-s3cret")
    monkeypatch.setenv("KAFKA_CONFIG__LINGER_MS", "5")
    row = next(row for row in effective_settings() if row.variable == "KAFKA_CONFIG")
    assert row.origin.value == "environment"
    assert "passthrough-s3cret" not in row.value and "linger_ms=5" in row.value


def test_prismaflow_config_prints_the_effective_values_and_json_never_holds_a_secret(
    secrets: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    (secrets / "prismaflow_servicenow_password").write_text("sn-s3cret")
    monkeypatch.setenv("PRISMAFLOW_LLM_API_KEY", "llm-s3cret")
    monkeypatch.setenv("PRISMAFLOW_SIEM_MAX_CACHED", "42")
    assert main(["config"]) == 0
    text = capsys.readouterr().out
    assert "s3cret" not in text
    line = next(line for line in text.splitlines() if line.startswith("PRISMAFLOW_SIEM_MAX_CACHED "))
    assert line.split() == ["PRISMAFLOW_SIEM_MAX_CACHED", "42", "(environment)"]
    assert main(["config", "--json"]) == 0
    document = capsys.readouterr().out
    assert "s3cret" not in document
    rows = {row["variable"]: row for row in json.loads(document)}
    assert rows["PRISMAFLOW_SERVICENOW_PASSWORD"] == {
        "variable": "PRISMAFLOW_SERVICENOW_PASSWORD", "section": "ServiceNow sink", "value": MASK,
        "origin": "secrets file"}
    assert rows["PRISMAFLOW_LLM_API_KEY"]["value"] == MASK


def test_values_passed_in_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "from-env:9092")
    settings = PrismaflowSettings(kafka=KafkaSettings(bootstrap_servers="given:9092"))
    assert settings.kafka.bootstrap_servers == "given:9092"


@pytest.mark.parametrize("argv", [["config"], ["run", "core", "--help"], ["demo"], ["--help"]],
                         ids=["config", "run-help", "demo", "help"])
def test_a_misspelled_variable_stops_every_command_with_one_line_and_no_traceback(
    argv: list[str], repo_root: Path,
) -> None:
    env = {**os.environ, "PRISMAFLOW_WORKER_MAX_BATCHH": "5"}
    done = subprocess.run([sys.executable, "-m", "streams.cli", *argv], env=env, cwd=repo_root,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip() == ("prismaflow: error: unknown setting PRISMAFLOW_WORKER_MAX_BATCHH — did you mean "
                                   "PRISMAFLOW_WORKER_MAX_BATCH?")


def test_the_bench_entry_stops_on_a_misspelled_variable_too(repo_root: Path) -> None:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVER": "127.0.0.1:9092"}
    done = subprocess.run([sys.executable, "-m", "streams.devtools.bench", "--alerts", "10"], env=env, cwd=repo_root,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "unknown setting KAFKA_BOOTSTRAP_SERVER — did you mean KAFKA_BOOTSTRAP_SERVERS?" in done.stderr


def test_the_sources_default_topics_are_the_catalogues() -> None:
    """connectors/ does not import streams/: the pollers' and receiver's default topics are spelled out."""
    assert (RAW_ALERTS_TOPIC, DLQ_TOPIC) == (RAW_ALERTS.name, DLQ.name)
    assert (PollerSettings().raw_topic, WebhookSettings().dlq_topic) == (RAW_ALERTS.name, DLQ.name)


def test_the_outside_systems_sections_are_the_connectors_own_models() -> None:
    """No copies: each system's section is its connector's model; only the simulators' addresses and
    credentials differ from the model's defaults."""
    defaults = PrismaflowSettings.model_validate({})  # no environment: every section at its defaults
    assert defaults.splunk == SplunkHecSettings(url="http://127.0.0.1:8288", token=defaults.splunk.token)
    assert defaults.syslog == SyslogSettings(host="127.0.0.1")
    assert defaults.feeds == FeedSettings()
    assert defaults.chat == ChatWebhookSettings(kind=ChatKind.SLACK, url=defaults.chat.url)
    prisma = defaults.prisma
    assert isinstance(prisma, PrismaSettings) and prisma.api_url == "http://127.0.0.1:8181"
    assert prisma.page_size == PrismaSettings.model_fields["page_size"].default
    assert defaults.servicenow.table is ServiceNowTable.INCIDENT and defaults.servicenow.auth.kind == "basic"
    assert defaults.jira.auth.kind == "basic" and defaults.jira.base_url == "http://127.0.0.1:8281"


def test_a_section_names_a_variable_its_own_way_and_the_sink_options_share_the_systems_prefix(
        set_env: Callable[[dict[str, str]], None]) -> None:
    set_env({
        "PRISMAFLOW_PRISMA_ACCESS_KEY_ID": "key-id",
        "PRISMAFLOW_FEEDS_TIMEOUT_S": "7.5",
        "PRISMAFLOW_FEEDS_MAX_ATTEMPTS": "5",
        "PRISMAFLOW_CHAT_WEBHOOK_URL": "https://hooks.example/x",
        "PRISMAFLOW_CHAT_NOTIFY_TIER": "high",
        "PRISMAFLOW_SYSLOG_HOST": "siem.example.com",
        "PRISMAFLOW_SYSLOG_CONSOLE_BASE_URL": "https://console.example",
    })
    settings = load_settings()
    assert settings.prisma.username == "key-id" and settings.prisma.password.get_secret_value() == "sim-secret-key"
    assert settings.feeds.request_timeout_s == 7.5 and settings.feeds.retry.max_attempts == 5
    assert settings.chat.url.get_secret_value() == "https://hooks.example/x"
    assert settings.chat_sink.notify_tier is RiskTier.HIGH and settings.chat_sink.audit
    assert settings.syslog.host == "siem.example.com" and settings.syslog_sink.min_tier is RiskTier.MEDIUM
    assert settings.syslog_sink.console_base_url == "https://console.example"
    assert settings.splunk_sink.min_tier is RiskTier.LOW


def test_every_setting_is_documented_no_variable_belongs_to_two_sections_and_nested_models_are_not_variables(
        ) -> None:
    assert all(field.description for section in sections() for _, _, field in section.variables())
    variables = [variable for section in sections() for variable, _, _ in section.variables()]
    assert len(variables) == len(set(variables))
    assert "PRISMAFLOW_SPLUNK_RETRY" not in variables and "PRISMAFLOW_SPLUNK_ROUTES" not in variables
    assert "PRISMAFLOW_PRISMA_USERNAME" not in variables  # it is PRISMAFLOW_PRISMA_ACCESS_KEY_ID
    assert [name for name, _ in unknown_variables({"PRISMAFLOW_SPLUNK_RETRY": "3"})] == ["PRISMAFLOW_SPLUNK_RETRY"]


class _Client(BaseModel):
    name: str = "x"
    config: dict[str, str] = {}


class _Root(BaseSettings):
    """A tree with a mapping field, as a librdkafka passthrough would be."""

    client: _Client = Field(default_factory=_Client, json_schema_extra={"env_prefix": "DEMO_"})


def test_a_mapping_field_is_filled_entry_by_entry_from_double_underscore_variables() -> None:
    source = SectionedEnvironmentSource(_Root, {"DEMO_CONFIG__SSL_CA_LOCATION": "/ca.pem", "DEMO_NAME": "n",
                                                "DEMO_CONFIG__LINGER_MS": "5", "DEMO_CONFIG__EMPTY": ""})
    assert source() == {"client": {"name": "n", "config": {"ssl_ca_location": "/ca.pem", "linger_ms": "5"}}}
    assert source.origins["DEMO_CONFIG__LINGER_MS"].value == "environment"


def test_the_sync_section_is_the_sync_policy_with_its_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().sync == SyncPolicy()
    monkeypatch.setenv("PRISMAFLOW_SYNC_DISMISS_ON_ACCEPTED_RISK", "true")
    monkeypatch.setenv("PRISMAFLOW_SYNC_INTERVAL_S", "60")
    settings = load_settings()
    policy = settings.sync
    assert settings.sync_schedule.interval_s == 60
    assert policy.dismiss_on_accepted_risk and policy.accepted_risk_resolutions == SyncPolicy().accepted_risk_resolutions


def test_a_bearer_token_variable_switches_jira_and_servicenow_to_bearer_auth(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRISMAFLOW_JIRA_BEARER_TOKEN", "jira-pat")
    monkeypatch.setenv("PRISMAFLOW_SERVICENOW_USERNAME", "integration")
    settings = load_settings()
    assert settings.jira.auth.kind == "bearer" and settings.jira.auth.token.get_secret_value() == "jira-pat"
    servicenow = settings.servicenow.auth
    assert servicenow.kind == "basic" and servicenow.username == "integration"
    assert servicenow.password.get_secret_value() == "sim-password"
    monkeypatch.setenv("PRISMAFLOW_SERVICENOW_BEARER_TOKEN", "oauth-token")
    assert load_settings().servicenow.auth.kind == "bearer"
