"""The Helm chart's remediation workloads (issue 13): the approval service, the console, the request
stage and the sandboxed executor — off by default, and when on: valid objects that kube-score finds
no unexplained CRITICAL problem in, secrets only as files, the executor locked down, the approval
service with a stable identity and a volume, the console reaching the approval service."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from streams.cli import build_parser
from tests.deploy.chart import CHART, helm, kube_score, render

REMEDIATION = ("existingSecret=prismaflow-secrets", "remediation.enabled=true",
               "remediation.execute.cloudCredentialsSecret=prismaflow-aws")
_NEW = {"approvals", "console", "remediate", "execute"}
_SECRET_SUFFIXES = ("_TOKEN", "_PASSWORD", "_SECRET", "_SECRET_KEY", "_API_KEY", "_KEY_ID", "_ACCESS_KEY",
                    "_SIGNING_KEY", "_WEBHOOK_URL", "_USER_INFO")


@pytest.fixture(scope="module")
def docs() -> list[dict[str, Any]]:
    return render(*REMEDIATION, "remediation.console.ingress.enabled=true",
                  "remediation.console.ingress.host=approvals.example.com")[1]


def _named(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"].removeprefix("pf-prismaflow-"): d for d in docs if d["kind"] == kind}


def _workloads(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {**_named(docs, "StatefulSet"), **_named(docs, "Deployment")}


def _container(workload: dict[str, Any]) -> dict[str, Any]:
    (container,) = workload["spec"]["template"]["spec"]["containers"]
    return container  # type: ignore[no-any-return]


def test_remediation_is_off_by_default_so_an_existing_install_is_unchanged() -> None:
    _, default = render("existingSecret=prismaflow-secrets")
    assert not _NEW & set(_workloads(default))
    assert not [d for d in default if d["kind"] == "Ingress"]


def test_production_needs_a_secret_for_the_executors_cloud_credentials() -> None:
    result = helm("template", "pf", str(CHART), "--set", "existingSecret=s", "--set", "remediation.enabled=true",
                  check=False)
    assert result.returncode != 0 and "remediation.execute.cloudCredentialsSecret is required" in result.stderr
    helm("lint", str(CHART), "--strict", *(arg for value in REMEDIATION for arg in ("--set", value)))


def test_every_remediation_object_is_valid_and_kube_score_finds_nothing_unexplained(
        docs: list[dict[str, Any]], tmp_path: Path) -> None:
    version = kubernetes_validate.latest_version()
    for doc in docs:
        if doc["kind"] not in ("ScaledObject", "PodMonitor"):
            kubernetes_validate.validate(doc, version, strict=True)
    assert {"StatefulSet", "Deployment", "Service", "Ingress", "NetworkPolicy", "PodDisruptionBudget"} <= \
        {d["kind"] for d in docs}
    scored, unexplained = kube_score(render(*REMEDIATION, "remediation.console.ingress.enabled=true",
                                            "remediation.console.ingress.host=approvals.example.com")[0], tmp_path)
    assert not unexplained, unexplained
    assert {f"pf-prismaflow-{name}" for name in _NEW} <= scored


def test_each_process_runs_its_real_command_with_probes_a_pdb_and_a_network_policy(docs: list[dict[str, Any]]) -> None:
    workloads = _workloads(docs)
    assert {name: _container(workloads[name])["args"] for name in _NEW} == {
        "approvals": ["approvals"], "console": ["console"], "remediate": ["run", "remediate"],
        "execute": ["run", "execute"]}
    parser = build_parser()
    for name in _NEW:
        parser.parse_args(_container(workloads[name])["args"])  # the CLI accepts it (exits otherwise)
    for name in ("remediate", "execute"):  # transactional workers: stable ids, worker health on the metrics port
        assert workloads[name]["kind"] == "StatefulSet"
        assert _container(workloads[name])["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert _container(workloads["approvals"])["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert _container(workloads["approvals"])["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert _container(workloads["console"])["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert _container(workloads["console"])["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    pdbs = [p["spec"]["selector"]["matchLabels"] for p in _named(docs, "PodDisruptionBudget").values()]
    policies = [p["spec"]["podSelector"]["matchLabels"] for p in _named(docs, "NetworkPolicy").values()]
    for name in _NEW:
        labels = workloads[name]["spec"]["template"]["metadata"]["labels"]
        assert [p for p in pdbs if p.items() <= labels.items()], f"no PDB for {name}"
        assert [p for p in policies if p.items() <= labels.items()], f"no NetworkPolicy for {name}"


def test_the_executor_is_locked_down_and_gets_its_cloud_credentials_only_as_files(docs: list[dict[str, Any]]) -> None:
    execute = _workloads(docs)["execute"]
    assert execute["spec"]["replicas"] == 1
    spec = execute["spec"]["template"]["spec"]
    assert spec["automountServiceAccountToken"] is False and spec["enableServiceLinks"] is False
    assert spec["securityContext"]["runAsNonRoot"] is True
    context = _container(execute)["securityContext"]
    assert context["readOnlyRootFilesystem"] is True and context["runAsNonRoot"] is True
    assert context["allowPrivilegeEscalation"] is False and context["privileged"] is False
    assert context["capabilities"] == {"drop": ["ALL"]} and context["seccompProfile"] == {"type": "RuntimeDefault"}
    (secrets,) = [v for v in spec["volumes"] if v["name"] == "secrets"]
    assert secrets["projected"]["sources"] == [{"secret": {"name": "prismaflow-secrets", "optional": False}},
                                               {"secret": {"name": "prismaflow-aws", "optional": False}}]
    mount = next(m for m in _container(execute)["volumeMounts"] if m["name"] == "secrets")
    assert mount == {"name": "secrets", "mountPath": "/var/run/secrets/prismaflow", "readOnly": True}
    # The cloud credentials reach no other pod.
    for name, workload in _workloads(docs).items():
        if name != "execute":
            assert "prismaflow-aws" not in str(workload["spec"]["template"]["spec"]["volumes"]), name


def test_secrets_are_files_in_every_remediation_pod_never_environment_or_config(docs: list[dict[str, Any]]) -> None:
    workloads = _workloads(docs)
    for name in _NEW:
        container = _container(workloads[name])
        for env in container.get("env", []):
            assert "secretKeyRef" not in str(env.get("valueFrom", "")), f"{env['name']} from a Secret in {name}"
            assert not env["name"].endswith(_SECRET_SUFFIXES), f"secret {env['name']} inline in {name}"
        assert all("secretRef" not in source for source in container["envFrom"]), name
    config = next(iter(_named(docs, "ConfigMap").values()))["data"]
    assert not [key for key in config if key.endswith(_SECRET_SUFFIXES)]
    assert config["PRISMAFLOW_SECRETS_DIR"] == "/var/run/secrets/prismaflow"


def test_the_approval_service_has_a_stable_identity_and_its_own_volume(docs: list[dict[str, Any]]) -> None:
    approvals = _named(docs, "StatefulSet")["approvals"]
    assert approvals["spec"]["replicas"] == 1  # one faust worker serves every partition
    (claim,) = approvals["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "data" and claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
    spec = approvals["spec"]["template"]["spec"]
    mounts = {m["mountPath"]: m["name"] for m in _container(approvals)["volumeMounts"]}
    assert mounts["/var/lib/prismaflow"] == "data"  # PRISMAFLOW_HOME: faust's data directory lives there
    assert "home" not in {v["name"] for v in spec["volumes"]}
    service = _named(docs, "Service")[approvals["spec"]["serviceName"].removeprefix("pf-prismaflow-")]
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["selector"].items() <= approvals["spec"]["template"]["metadata"]["labels"].items()
    env = {e["name"]: e.get("value") for e in _container(approvals)["env"]}
    assert env["PRISMAFLOW_REMEDIATION_SERVICE_HOST"] == "0.0.0.0"
    assert env["PRISMAFLOW_REMEDIATION_SERVICE_PORT"] == str(service["spec"]["ports"][0]["port"])


def test_the_console_talks_to_the_deployed_approval_service_and_is_reachable(docs: list[dict[str, Any]]) -> None:
    console = _named(docs, "Deployment")["console"]
    env = {e["name"]: e.get("value") for e in _container(console)["env"]}
    assert env["PRISMAFLOW_CONSOLE_APPROVALS_URL"] == "http://pf-prismaflow-approvals:6066"
    assert env["PRISMAFLOW_CONSOLE_HOST"] == "0.0.0.0"
    assert env["PRISMAFLOW_CONSOLE_USERS_FILE"].startswith("/var/run/secrets/prismaflow/")
    service = _named(docs, "Service")["console"]
    assert service["spec"]["selector"].items() <= console["spec"]["template"]["metadata"]["labels"].items()
    (ingress,) = [d for d in docs if d["kind"] == "Ingress"]
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "pf-prismaflow-console", "port": {"name": "http"}}
    policies = _named(docs, "NetworkPolicy")
    to_approvals = policies["console"]["spec"]["egress"][0]
    assert to_approvals["ports"] == [{"port": 6066, "protocol": "TCP"}]
    allowed_in = policies["approvals"]["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"]
    assert allowed_in.items() <= console["spec"]["template"]["metadata"]["labels"].items()
    # A configured URL wins over the chart's own service.
    chosen = render(*REMEDIATION, "config.PRISMAFLOW_CONSOLE_APPROVALS_URL=https://approvals.internal")[1]
    console_env = {e["name"] for e in _container(_named(chosen, "Deployment")["console"])["env"]}
    assert "PRISMAFLOW_CONSOLE_APPROVALS_URL" not in console_env
    assert next(iter(_named(chosen, "ConfigMap").values()))["data"]["PRISMAFLOW_CONSOLE_APPROVALS_URL"] == \
        "https://approvals.internal"


def test_demo_mode_with_remediation_generates_its_keys_and_needs_no_cloud_secret() -> None:
    _, docs = render("demo=true", "remediation.enabled=true")
    secret = _named(docs, "Secret")["demo-secrets"]
    assert set(secret["data"]) == {"prismaflow_audit_signing_key", "prismaflow_remediation_signing_key",
                                   "prismaflow_remediation_api_token", "prismaflow_console_session_secret",
                                   "prismaflow_console_link_secret"}
    assert all(len(base64.b64decode(value)) >= 32 for value in secret["data"].values())
    volumes = _workloads(docs)["execute"]["spec"]["template"]["spec"]["volumes"]
    assert {"name": "secrets", "secret": {"secretName": "pf-prismaflow-demo-secrets", "optional": False}} in volumes
