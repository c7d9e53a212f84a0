"""A real moto server (``moto[server]``'s ThreadedMotoServer) for the executor's AWS tests.

One server per test module on a free local port; every test makes its own resources (unique names,
or a region of its own for region-wide settings), so the tests do not depend on each other's order.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer
from pydantic import SecretStr

from connectors.aws.executor import AwsExecutor
from connectors.aws.settings import AwsExecutorSettings

#: Short-lived-looking credentials (moto accepts any); the session token makes them pass the check.
ACCESS_KEY_ID = "ASIAMOTOTESTEXECUTOR"
SECRET_ACCESS_KEY = "moto-test-secret-access-key-0123456789"
SESSION_TOKEN = "moto-test-session-token"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    """The endpoint of a moto server running for this module."""
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws(moto_url: str) -> Callable[..., Any]:
    """``aws("s3", region="us-east-1")``: a boto3 client on the moto server, for arranging and reading back."""
    def client(service: str, region: str = "us-east-1") -> Any:
        return boto3.client(service, endpoint_url=moto_url, region_name=region, aws_access_key_id=ACCESS_KEY_ID,
                            aws_secret_access_key=SECRET_ACCESS_KEY, aws_session_token=SESSION_TOKEN)
    return client


def executor_settings(endpoint_url: str, **overrides: Any) -> AwsExecutorSettings:
    """Settings of an executor that calls ``endpoint_url`` with the test credentials."""
    fields: dict[str, Any] = {"endpoint_url": endpoint_url, "access_key_id": SecretStr(ACCESS_KEY_ID),
                              "secret_access_key": SecretStr(SECRET_ACCESS_KEY),
                              "session_token": SecretStr(SESSION_TOKEN), "action_time_limit_s": 60.0}
    fields.update(overrides)
    return AwsExecutorSettings(**fields)


@pytest.fixture
def executor(moto_url: str) -> AwsExecutor:
    """The real AWS plug-in (child process and all) pointed at the moto server."""
    return AwsExecutor(executor_settings(moto_url))


@pytest.fixture
def name() -> str:
    """A fresh resource name."""
    return f"pf-{uuid.uuid4().hex[:12]}"
