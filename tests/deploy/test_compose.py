"""The full-stack compose file: `docker compose config` accepts it, and it runs the broker, the
registry, a simulator for each outside system, every long-running Prismaflow process, Prometheus
(with the alert rules, scraping each process) and Grafana (with the dashboard provisioned)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.compose import SINKS
from tests.deploy.chart import REPO, tool

DEPLOY = REPO / "deploy"
_SIMULATED = {"prisma", "jira", "servicenow", "splunk", "slack", "llm"}
#: Left out of the stack on purpose, with the reason in the compose file (none at present).
_NOT_IN_STACK: set[tuple[str, ...]] = set()


@pytest.fixture(scope="module")
def stack() -> dict[str, Any]:
    result = subprocess.run([tool("docker-compose"), "-f", str(DEPLOY / "docker-compose.yml"), "config",
                             "--format", "json"], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def _prismaflow(stack: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services that run a `prismaflow` command (the image's entrypoint, not overridden)."""
    return {name: s for name, s in stack["services"].items()
            if s.get("image") == "prismaflow:0.1.0" and not s.get("entrypoint")}


def test_the_stack_has_broker_registry_monitoring_and_a_simulator_per_outside_system(stack: dict[str, Any]) -> None:
    services = stack["services"]
    assert {"kafka", "registry", "prometheus", "grafana"} <= set(services)
    simulators = {s["command"][0] for s in services.values() if s.get("entrypoint") == ["python", "-m"]}
    assert simulators == {f"connectors.{system}.simulator" for system in _SIMULATED}
    for name, service in services.items():
        if service.get("entrypoint") == ["python", "-m"]:
            assert "--host" in service["command"] and "0.0.0.0" in service["command"], name


def test_every_long_running_prismaflow_process_runs(stack: dict[str, Any]) -> None:
    commands = {tuple(s["command"]) for s in _prismaflow(stack).values()}
    expected = {("topics", "create"), ("schemas", "register"), ("poll",), ("webhook",), ("run", "core"),
                ("run", "analyse"), ("sync", "jira")}
    expected |= {("sink", name) for name in SINKS if name != "analyse"} - _NOT_IN_STACK  # analyse: `run analyse`
    assert commands == expected


def test_prismaflow_containers_are_hardened_and_wait_for_the_topics_and_schemas(stack: dict[str, Any]) -> None:
    for name, service in _prismaflow(stack).items():
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name
        env = service["environment"]
        assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:19092"
        assert env["SCHEMA_REGISTRY_URL"].startswith("http://registry:")
        if name == "secrets-init":  # the audit signing key, made once into the shared secrets volume
            assert "audit keygen" in " ".join(service["command"]) and "depends_on" not in service
            assert {"source": "prismaflow-secrets", "target": env["PRISMAFLOW_SECRETS_DIR"], "type": "volume"}.items() \
                <= service["volumes"][0].items()
        elif name == "topics":
            assert service["depends_on"]["kafka"]["condition"] == "service_healthy"
        elif name == "schemas":
            assert "registry" in service["depends_on"] and "SCHEMA_REGISTRY_AUTO_REGISTER" not in env
        else:
            assert service["depends_on"]["topics"]["condition"] == "service_completed_successfully", name
            assert service["depends_on"]["schemas"]["condition"] == "service_completed_successfully", name
            assert service["depends_on"]["secrets-init"]["condition"] == "service_completed_successfully", name
            assert service["healthcheck"]["test"][0] == "CMD", name
    for secret in stack["secrets"].values():
        assert Path(secret["file"]).is_file()


def test_prometheus_scrapes_every_process_and_loads_the_rules(stack: dict[str, Any], tmp_path: Path) -> None:
    mounts = {v["target"]: Path(v["source"]) for v in stack["services"]["prometheus"]["volumes"]}
    config_file = mounts["/etc/prometheus/prometheus.yml"]
    assert mounts["/etc/prometheus/alerts.yml"] == DEPLOY / "prometheus" / "alerts.yml"
    config = yaml.safe_load(config_file.read_text())
    assert config["rule_files"] == ["alerts.yml"]
    job, remediation = config["scrape_configs"]
    assert "prismaflow" in job["job_name"]  # the target-down rules select job=~".*prismaflow.*"
    # The remediation profile's workers by DNS (tests/deploy/test_compose_remediation.py).
    assert "prismaflow" in remediation["job_name"]
    assert remediation["dns_sd_configs"] == [{"names": ["remediate", "execute"], "type": "A", "port": 9400}]
    targets = {t.split(":")[0]: int(t.split(":")[1]) for t in job["static_configs"][0]["targets"]}
    long_running = {n for n in _prismaflow(stack) if n not in ("topics", "schemas")}
    assert set(targets) == long_running
    assert targets["webhook"] == 8088 and {p for n, p in targets.items() if n != "webhook"} == {9400}
    shutil.copy(config_file, tmp_path / "prometheus.yml")
    shutil.copy(mounts["/etc/prometheus/alerts.yml"], tmp_path / "alerts.yml")
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: scripts/system-deps.sh test installs Debian's prometheus package"
    check = subprocess.run([promtool, "check", "config", "prometheus.yml"], cwd=tmp_path, capture_output=True,
                           text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr


def test_grafana_provisions_the_dashboard_on_the_stacks_prometheus(stack: dict[str, Any]) -> None:
    mounts = {v["target"]: Path(v["source"]) for v in stack["services"]["grafana"]["volumes"]}
    provisioning = mounts["/etc/grafana/provisioning"]
    (datasource,) = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())["datasources"]
    assert datasource["type"] == "prometheus" and datasource["url"] == "http://prometheus:9090"
    (provider,) = yaml.safe_load((provisioning / "dashboards" / "prismaflow.yml").read_text())["providers"]
    dashboard = mounts[f"{provider['options']['path']}/prismaflow-dashboard.json"]
    assert dashboard == DEPLOY / "grafana" / "prismaflow-dashboard.json"
    assert json.loads(dashboard.read_text())["uid"] == "prismaflow"


def test_the_syslog_sink_sends_to_the_stacks_own_rsyslog(stack: dict[str, Any]) -> None:
    services = stack["services"]
    environment = services["sink-syslog"]["environment"]
    assert environment["PRISMAFLOW_SYSLOG_HOST"] == "rsyslog"
    assert services["rsyslog"]["build"]["context"].endswith("deploy/compose/rsyslog")
    conf = (DEPLOY / "compose/rsyslog/rsyslog.conf").read_text()
    assert f'port="{environment["PRISMAFLOW_SYSLOG_PORT"]}"' in conf
