"""The Helm chart: lints, renders valid Kubernetes objects (kubernetes-validate) that kube-score
finds no unexplained CRITICAL problem in, and deploys what production needs: stable identities for
the transactional stages, secrets from an existing Secret, Pod Security "restricted", PDBs,
NetworkPolicies, probes on /healthz and /readyz, KEDA on consumer-group lag and a topics Job."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from processors.audit.signing import AuditSigner
from streams.cli import build_parser
from streams.config import sections
from tests.deploy.chart import CHART, EVERYTHING, helm, kube_score, render

_SECRET_SUFFIXES = ("_TOKEN", "_PASSWORD", "_SECRET_KEY", "_API_KEY", "_WEBHOOK_URL", "_USER_INFO")
_TRANSACTIONAL = {"core", "analyse", "sink-jira", "sink-servicenow", "sink-siem", "sink-splunk", "sink-syslog",
                  "sink-chat", "sync-jira", "sync-servicenow"}
_BUILT_IN = {"ConfigMap", "Service", "StatefulSet", "Deployment", "Job", "PodDisruptionBudget", "NetworkPolicy"}


@pytest.fixture(scope="module")
def everything() -> list[dict[str, Any]]:
    return render(*EVERYTHING)[1]


def _of(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def _pod_specs(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d["spec"]["template"]["spec"] for d in docs
            if d["kind"] in ("StatefulSet", "Deployment", "Job")}


def test_helm_lint_passes_in_production_and_demo_mode() -> None:
    helm("lint", str(CHART), "--strict", "--set", "existingSecret=prismaflow-secrets")
    helm("lint", str(CHART), "--strict", "--set", "demo=true")


def test_production_mode_refuses_to_render_without_an_existing_secret() -> None:
    result = helm("template", "pf", str(CHART), check=False)
    assert result.returncode != 0
    assert "existingSecret is required unless demo: true" in result.stderr


def test_the_rendered_manifests_are_valid_kubernetes_objects(everything: list[dict[str, Any]]) -> None:
    version = kubernetes_validate.latest_version()
    for doc in everything:
        if doc["kind"] in _BUILT_IN:
            kubernetes_validate.validate(doc, version, strict=True)  # raises on any invalid or unknown field
    assert {d["kind"] for d in everything} == _BUILT_IN | {"ScaledObject", "PodMonitor"}


def test_kube_score_finds_no_critical_problem_that_values_yaml_does_not_explain(tmp_path: Path) -> None:
    scored, unexplained = kube_score(render(*EVERYTHING)[0], tmp_path)
    assert not unexplained, unexplained
    assert {"pf-prismaflow-core", "pf-prismaflow-webhook", "pf-prismaflow-workers"} <= scored


def test_every_transactional_stage_is_a_statefulset_named_by_its_ordinal(everything: list[dict[str, Any]]) -> None:
    statefulsets = _of(everything, "StatefulSet")
    assert set(statefulsets) == {f"pf-prismaflow-{name}" for name in _TRANSACTIONAL}
    headless = _of(everything, "Service")
    for name, sts in statefulsets.items():
        service = headless[sts["spec"]["serviceName"]]
        assert service["spec"]["clusterIP"] == "None"
        pod_labels = sts["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= pod_labels.items(), f"{name} not behind its headless Service"
        env = {e["name"]: e for e in sts["spec"]["template"]["spec"]["containers"][0]["env"]}
        # The StatefulSet pod name, <sts>-<ordinal>, is the stable instance id of its transactions.
        assert env["PRISMAFLOW_WORKER_INSTANCE_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    deployments = _of(everything, "Deployment")
    assert set(deployments) == {"pf-prismaflow-poll", "pf-prismaflow-webhook"}
    assert deployments["pf-prismaflow-poll"]["spec"]["replicas"] == 1
    assert deployments["pf-prismaflow-poll"]["spec"]["strategy"]["type"] == "Recreate"


def test_containers_run_real_commands_with_probes_on_health_and_readiness(everything: list[dict[str, Any]]) -> None:
    commands = set(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    for name, spec in _pod_specs(everything).items():
        container = spec["containers"][0]
        assert container["args"][0] in commands, container["args"]
        if name.endswith("-topics"):
            assert container["args"] == ["topics", "create"]
        elif name.endswith("-schemas"):
            assert container["args"] == ["schemas", "register"]
        elif name.endswith("-webhook"):
            # The receiver serves its own probes on its HTTP port (connectors/prisma/webhook.py).
            assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
            assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        else:
            assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
            assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    config = next(iter(_of(everything, "ConfigMap").values()))["data"]
    assert config["PRISMAFLOW_WORKER_METRICS_ADDR"] == "0.0.0.0" and config["PRISMAFLOW_WORKER_METRICS_PORT"] == "9400"


def test_every_pod_meets_pod_security_restricted_with_resources(everything: list[dict[str, Any]]) -> None:
    for name, spec in _pod_specs(everything).items():
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert spec["automountServiceAccountToken"] is False
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"] == {"drop": ["ALL"]}, name
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["runAsNonRoot"] is True and context["seccompProfile"]["type"] == "RuntimeDefault"
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][kind]), f"{name} lacks {kind}"


def test_secrets_come_from_the_existing_secret_never_optional_never_inline(everything: list[dict[str, Any]]) -> None:
    for name, spec in _pod_specs(everything).items():
        secrets = [v for v in spec["volumes"] if "secret" in v]
        assert secrets == [{"name": "secrets", "secret": {"secretName": "prismaflow-secrets", "optional": False}}], name
        for env in spec["containers"][0]["env"]:
            assert not env["name"].endswith(_SECRET_SUFFIXES), f"secret {env['name']} given inline in {name}"
    config = next(iter(_of(everything, "ConfigMap").values()))["data"]
    assert not [key for key in config if key.endswith(_SECRET_SUFFIXES)], "secrets belong in the Secret"
    assert config["PRISMAFLOW_SECRETS_DIR"] == "/var/run/secrets/prismaflow"


def test_demo_mode_makes_its_own_secret_with_an_audit_signing_key_and_no_credentials() -> None:
    _, docs = render("demo=true")
    (secret,) = _of(docs, "Secret").values()
    assert secret["metadata"]["name"] == "pf-prismaflow-demo-secrets"
    assert set(secret["data"]) == {"prismaflow_audit_signing_key"}
    key = base64.b64decode(secret["data"]["prismaflow_audit_signing_key"]).decode()
    assert AuditSigner.from_secret(key).key_id == "demo"  # the format `prismaflow audit keygen` writes
    for name, spec in _pod_specs(docs).items():
        secrets = [v for v in spec["volumes"] if "secret" in v]
        assert secrets == [{"name": "secrets", "secret": {"secretName": "pf-prismaflow-demo-secrets",
                                                          "optional": False}}], name
    config = next(iter(_of(docs, "ConfigMap").values()))["data"]
    assert config["PRISMAFLOW_SECRETS_DIR"] == "/var/run/secrets/prismaflow"
    # Each render makes a new key (an upgrade keeps the installed one: the template looks it up).
    assert _of(render("demo=true")[1], "Secret")["pf-prismaflow-demo-secrets"]["data"] != secret["data"]
    # With a Secret of one's own, the chart makes none.
    assert not _of(render("demo=true", "existingSecret=mine")[1], "Secret")


def test_each_workload_has_a_pod_disruption_budget_and_a_network_policy(everything: list[dict[str, Any]]) -> None:
    pdbs = [p["spec"]["selector"]["matchLabels"] for p in _of(everything, "PodDisruptionBudget").values()]
    policies = _of(everything, "NetworkPolicy")
    for doc in everything:
        if doc["kind"] not in ("StatefulSet", "Deployment"):
            continue
        labels = doc["spec"]["template"]["metadata"]["labels"]
        assert [p for p in pdbs if p.items() <= labels.items()], f"no PDB for {doc['metadata']['name']}"
        covering = [p for p in policies.values() if p["spec"]["podSelector"]["matchLabels"].items() <= labels.items()]
        kinds = {kind for p in covering for kind in p["spec"]["policyTypes"]}
        assert kinds == {"Ingress", "Egress"}, f"{doc['metadata']['name']} is not isolated both ways"
    workers = policies["pf-prismaflow-workers"]["spec"]
    egress_ports = {port["port"] for rule in workers["egress"] for port in rule.get("ports", [])}
    assert {53, 9092, 443} <= egress_ports


def test_keda_scales_each_stateful_stage_on_its_own_consumer_groups_lag(everything: list[dict[str, Any]]) -> None:
    scaled = _of(everything, "ScaledObject")
    statefulsets = _of(everything, "StatefulSet")
    groups = {}
    for name, obj in scaled.items():
        target = obj["spec"]["scaleTargetRef"]
        assert target["kind"] == "StatefulSet" and target["name"] in statefulsets
        assert "replicas" not in statefulsets[target["name"]]["spec"]  # KEDA owns the replica count
        (trigger,) = obj["spec"]["triggers"]
        assert trigger["type"] == "kafka" and trigger["metadata"]["bootstrapServers"] == "kafka:9092"
        groups[name.removeprefix("pf-prismaflow-")] = trigger["metadata"]["consumerGroup"]
    # The groups the code joins: streams/run.py "<prefix>.<stage>", streams/sinks.py "<prefix>.sink.<name>".
    assert groups == {"core": "prismaflow.core", "analyse": "prismaflow.sink.analyse",
                      **{f"sink-{s}": f"prismaflow.sink.{s}" for s in
                         ("jira", "servicenow", "siem", "splunk", "syslog", "chat")}}
    assert not _of(render("existingSecret=s")[1], "ScaledObject")  # off by default
    assert all("authenticationRef" not in obj["spec"]["triggers"][0] for obj in scaled.values())


def test_keda_authenticates_to_a_secured_cluster_through_the_named_trigger_authentication() -> None:
    secured = render("existingSecret=s", "keda.enabled=true", "keda.authenticationRef=kafka-scaler-auth",
                     "config.KAFKA_SECURITY_PROTOCOL=SASL_SSL")[1]
    scaled = _of(secured, "ScaledObject")
    assert scaled
    for obj in scaled.values():
        (trigger,) = obj["spec"]["triggers"]
        assert trigger["authenticationRef"] == {"name": "kafka-scaler-auth"}
        assert trigger["metadata"]["tls"] == "enable"


def test_the_pod_monitor_scrapes_every_worker_and_the_webhook(everything: list[dict[str, Any]]) -> None:
    (monitor,) = _of(everything, "PodMonitor").values()
    assert {e["port"] for e in monitor["spec"]["podMetricsEndpoints"]} == {"metrics", "http"}
    selector = monitor["spec"]["selector"]["matchLabels"]
    for doc in everything:
        if doc["kind"] in ("StatefulSet", "Deployment"):
            assert selector.items() <= doc["spec"]["template"]["metadata"]["labels"].items()


def test_a_configured_registry_gets_its_schemas_registered_by_a_hook_job(everything: list[dict[str, Any]]) -> None:
    (job,) = [d for d in _of(everything, "Job").values() if d["metadata"]["name"].endswith("-schemas")]
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install,post-upgrade"
    _, without_registry = render("existingSecret=prismaflow-secrets")
    assert not [d for d in without_registry if d["metadata"]["name"].endswith("-schemas")]


def test_values_list_every_setting_the_processes_read() -> None:
    managed = {"PRISMAFLOW_WORKER_INSTANCE_ID", "PRISMAFLOW_WORKER_METRICS_PORT", "PRISMAFLOW_POLLER_METRICS_PORT",
               "PRISMAFLOW_WORKER_METRICS_ADDR", "PRISMAFLOW_POLLER_METRICS_ADDR", "PRISMAFLOW_WEBHOOK_HOST",
               "PRISMAFLOW_WEBHOOK_PORT", "PRISMAFLOW_WORKER_FEEDS_DIR"}
    expected = set()
    for section in sections():
        if section.name == "broker":  # the local development broker, not deployed
            continue
        mappings = {prefix.removesuffix("__") for prefix, _ in section.entry_prefixes()}  # set as <VAR>__<KEY>
        for variable, _, field in section.variables():
            if "SecretStr" not in str(field.annotation) and variable not in managed | mappings:
                expected.add(variable)
    config = yaml.safe_load((CHART / "values.yaml").read_text())["config"]
    assert set(config) == expected
