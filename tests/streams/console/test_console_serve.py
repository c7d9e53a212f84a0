"""``prismaflow console``: its settings section, what it refuses to start without, its password hashing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr
from starlette.testclient import TestClient

from processors.errors import ConfigurationError
from streams.config import PrismaflowSettings
from streams.console.serve import console_from_settings
from streams.console.settings import ConsoleSettings
from streams.console.users import UserStore
from tests.streams.console.desk_factory import desk_with, make_request


def test_the_console_is_a_section_of_the_settings_tree_read_from_the_environment(monkeypatch: pytest.MonkeyPatch,
                                                                                 tmp_path: Path) -> None:
    (tmp_path / "prismaflow_console_link_secret").write_text("link-secret-from-a-file-0123")
    monkeypatch.setenv("PRISMAFLOW_SECRETS_DIR", str(tmp_path))
    monkeypatch.setenv("PRISMAFLOW_CONSOLE_PORT", "9999")
    monkeypatch.setenv("PRISMAFLOW_CONSOLE_SLACK_APPROVERS__U0ALICE", "alice")
    console = PrismaflowSettings().console
    assert console.port == 9999
    assert console.link_secret is not None and console.link_secret.get_secret_value() == "link-secret-from-a-file-0123"
    assert console.slack_approvers == {"u0alice": "alice"}


@pytest.mark.parametrize("missing", ["session_secret", "link_secret", "users_file"])
def test_the_console_will_not_start_without_its_secrets_and_users(missing: str, tmp_path: Path) -> None:
    users = tmp_path / "users.yaml"
    users.write_text("users: []\n")
    values = {"session_secret": SecretStr("s" * 32), "link_secret": SecretStr("l" * 32), "users_file": users}
    del values[missing]
    with pytest.raises(ConfigurationError, match=f"PRISMAFLOW_CONSOLE_{missing.upper()}"):
        console_from_settings(ConsoleSettings(**values), desk_with())  # type: ignore[arg-type]


def test_the_user_store_file_is_checked_and_hash_password_makes_a_hash_it_accepts(tmp_path: Path) -> None:
    hashed = subprocess.run([sys.executable, "-m", "streams.cli", "console", "hash-password"], input="s3cret!\n",
                            capture_output=True, text=True, check=True).stdout.strip()
    path = tmp_path / "users.yaml"
    path.write_text(f"users:\n  - name: alice\n    role: approver\n    password_hash: '{hashed}'\n")
    store = UserStore.load(path)
    assert store.authenticate("alice", "s3cret!") is not None
    assert store.authenticate("alice", "s3cret") is None
    path.write_text("users:\n  - name: alice\n    role: root\n    password_hash: 'plain'\n")
    with pytest.raises(ConfigurationError, match="bad password_hash, role") as refused:
        UserStore.load(path)
    assert "plain" not in str(refused.value)


def test_a_configured_console_serves_and_mounts_slack_only_with_a_signing_secret(tmp_path: Path) -> None:
    users = tmp_path / "users.yaml"
    users.write_text("users: []\n")
    base = {"session_secret": SecretStr("s" * 32), "link_secret": SecretStr("l" * 32), "users_file": users,
            "secure_cookies": False}
    desk = desk_with(make_request())
    with TestClient(console_from_settings(ConsoleSettings(**base), desk)) as client:  # type: ignore[arg-type]
        assert client.get("/healthz").text == "ok"
        assert client.post("/slack/interactions", content=b"payload=x").status_code == 404
    slack = ConsoleSettings(**base, slack_signing_secret=SecretStr("x" * 32))  # type: ignore[arg-type]
    with TestClient(console_from_settings(slack, desk)) as client:
        assert client.post("/slack/interactions", content=b"payload=x").status_code == 401


def test_serving_without_the_approval_service_asks_for_the_demo() -> None:
    done = subprocess.run([sys.executable, "-m", "streams.cli", "console"], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 2 and "--demo" in done.stderr
