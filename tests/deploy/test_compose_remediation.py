"""The compose stack's remediation profile: `docker compose --profile remediation config` adds the
approval service, the console, the request stage and the executor (with a moto server for AWS) and
the default `up` is unchanged; the secrets-init service's script, run for real with the prismaflow
command, makes every key they need and a console user store the console accepts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from processors.audit.signing import AuditSigner
from streams.console.users import UserStore
from tests.deploy.chart import REPO, tool

DEPLOY = REPO / "deploy"
_REMEDIATION = {"approvals": ["approvals"], "console": ["console"], "remediate": ["run", "remediate"],
                "execute": ["run", "execute"]}


def _config(*options: str) -> dict[str, Any]:
    result = subprocess.run([tool("docker-compose"), "-f", str(DEPLOY / "docker-compose.yml"), *options, "config",
                             "--format", "json"], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def stack() -> dict[str, Any]:
    return _config("--profile", "remediation")


def test_the_remediation_processes_run_only_with_their_profile(stack: dict[str, Any]) -> None:
    default = _config()["services"]
    assert not (set(_REMEDIATION) | {"moto"}) & set(default)
    services = stack["services"]
    assert {name: services[name]["command"] for name in _REMEDIATION} == _REMEDIATION
    for name in [*_REMEDIATION, "moto"]:
        assert services[name]["profiles"] == ["remediation"], name
    assert set(default) == set(services) - set(_REMEDIATION) - {"moto"}  # nothing else changes


def test_remediation_containers_are_hardened_and_wait_for_topics_schemas_and_secrets(stack: dict[str, Any]) -> None:
    services = stack["services"]
    for name in _REMEDIATION:
        service = services[name]
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name
        for step in ("secrets-init", "topics", "schemas"):
            assert service["depends_on"][step]["condition"] == "service_completed_successfully", (name, step)
        mounts = {v["target"]: v for v in service["volumes"]}
        assert mounts["/run/prismaflow-secrets"]["source"] == "prismaflow-secrets"
        assert mounts["/run/prismaflow-secrets"]["read_only"] is True, name
        assert service["environment"]["PRISMAFLOW_SECRETS_DIR"] == "/run/prismaflow-secrets"
        assert service["healthcheck"]["test"][0] == "CMD", name
        assert not [k for k in service["environment"] if k.endswith(("_TOKEN", "_SECRET", "_SIGNING_KEY", "_KEY"))], name


def test_the_console_talks_to_the_approval_service_and_the_executor_to_moto(stack: dict[str, Any]) -> None:
    services = stack["services"]
    approvals, console, execute = services["approvals"], services["console"], services["execute"]
    assert approvals["environment"]["PRISMAFLOW_REMEDIATION_SERVICE_HOST"] == "0.0.0.0"
    port = approvals["environment"]["PRISMAFLOW_REMEDIATION_SERVICE_PORT"]
    assert "6066/readyz" in " ".join(approvals["healthcheck"]["test"]) and port == "6066"
    # faust's data directory (PRISMAFLOW_HOME) is a named volume, not the tmpfs of the other workers.
    assert {v["target"]: v["source"] for v in approvals["volumes"]}["/var/lib/prismaflow"] == "approvals-data"
    assert console["environment"]["PRISMAFLOW_CONSOLE_APPROVALS_URL"] == f"http://approvals:{port}"
    assert console["depends_on"]["approvals"]["condition"] == "service_healthy"
    assert console["environment"]["PRISMAFLOW_CONSOLE_USERS_FILE"].startswith("/run/prismaflow-secrets/")
    assert [(p["host_ip"], p["published"], p["target"]) for p in console["ports"]] == [("127.0.0.1", "8290", 8290)]
    assert execute["environment"]["PRISMAFLOW_AWS_ENDPOINT_URL"] == "http://moto:5000"
    assert services["moto"]["build"]["context"].endswith("deploy/compose/moto")
    moto_version = subprocess.run([sys.executable, "-c", "import moto; print(moto.__version__)"], capture_output=True,
                                  text=True, check=True).stdout.strip()
    assert f"moto[server]=={moto_version}" in (DEPLOY / "compose/moto/Dockerfile").read_text()  # the tests' moto
    # Jira and Slack of the request stage are the stack's simulators.
    assert {"jira-sim", "slack-sim"} <= set(services)
    assert services["remediate"]["environment"]["PRISMAFLOW_JIRA_BASE_URL"] == "http://jira-sim:8281"


def test_secrets_init_makes_every_remediation_key_and_a_user_store_the_console_accepts(
        stack: dict[str, Any], tmp_path: Path) -> None:
    init = stack["services"]["secrets-init"]
    assert init["entrypoint"] == ["sh", "-c"]
    script = init["command"][0].replace("$$", "$")  # compose's escape for a literal $
    folder, given = tmp_path / "secrets", tmp_path / "given"
    folder.mkdir()
    given.mkdir()
    for secret in stack["secrets"].values():
        (given / Path(secret["file"]).name).write_bytes(Path(secret["file"]).read_bytes())
    script = script.replace("/run/prismaflow-secrets", str(folder)).replace("/run/secrets", str(given))
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("PRISMAFLOW_", "KAFKA_"))},
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for _ in range(2):  # the second start keeps every key
        subprocess.run(["sh", "-c", script], env=env, check=True, timeout=120, capture_output=True)
        if _ == 0:
            first = {path.name: path.read_bytes() for path in folder.iterdir()}
    made = {path.name: path.read_bytes() for path in folder.iterdir()}
    assert made == first
    for key in ("prismaflow_remediation_signing_key", "prismaflow_remediation_api_token",
                "prismaflow_console_session_secret", "prismaflow_console_link_secret"):
        assert len(made[key]) >= 32, key
    assert len({made[k] for k in made if k.startswith(("prismaflow_remediation", "prismaflow_console"))}) == 4
    AuditSigner.from_secret(made["prismaflow_audit_signing_key"].decode())
    users = UserStore.load(folder / "console-users.yaml")
    password = made["console-demo-password"].decode()
    assert users.authenticate("alice", password) is not None and users.authenticate("bob", password) is not None
    assert users.authenticate("alice", "wrong") is None
    assert made["prismaflow_aws_access_key_id"] == b"testing"  # moto's placeholder, nothing real


def test_the_named_volumes_prismaflow_writes_are_owned_by_its_user_in_the_image(stack: dict[str, Any]) -> None:
    # Docker fills a new named volume from the image's folder, owner included: a folder missing from
    # the image would be root's, and the process (UID 10001) could not write its keys or faust's data.
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    owned = dockerfile.split("install -d -o 10001 -g 10001", 1)[1].splitlines()[0].split()
    for name in ("secrets-init", "approvals"):
        for volume in stack["services"][name]["volumes"]:
            if volume["type"] == "volume" and not volume.get("read_only"):
                assert volume["target"] in owned, (name, volume["target"])
