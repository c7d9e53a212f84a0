"""Settings of the AWS executor plug-in: the ``aws_executor`` section (``PRISMAFLOW_AWS_*``).

Credentials are short-lived ones (an STS session: access key id, secret key and session token), from
the environment or the secrets folder (``prismaflow_aws_access_key_id``, ``prismaflow_aws_secret_access_key``,
``prismaflow_aws_session_token``), or from an AWS credentials file (``credentials_file``) that a
sidecar refreshes: that file is read again for every action, so rotated credentials are picked up
without a restart. By default a plan does not run without a session token: long-lived access keys of
an IAM user are refused.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from connectors.url_fields import HttpBaseUrl

__all__ = ["AwsExecutorSettings"]


class AwsExecutorSettings(BaseModel):
    """Where the executor's boto3 calls go, with which credentials, and how long they may take."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoint_url: HttpBaseUrl | None = Field(
        default=None, description="Endpoint for every AWS service called (a VPC endpoint, or moto in tests); "
                                  "unset: AWS's own regional endpoints")
    region: str = Field(default="us-east-1", pattern=r"^[a-z]{2}(-[a-z]+)+-[0-9]+$",
                        description="Region of actions that name none (and of global services' clients)")
    access_key_id: SecretStr | None = Field(default=None, description="Access key id of the executor's session (secret)")
    secret_access_key: SecretStr | None = Field(default=None, description="Secret access key (secret)")
    session_token: SecretStr | None = Field(default=None, description="STS session token (secret)")
    credentials_file: Path | None = Field(
        default=None, description="AWS credentials file (INI) read before every action, instead of the three "
                                  "variables above: for credentials a sidecar rotates")
    credentials_profile: str = Field(default="default", description="Profile of credentials_file to use")
    require_session_token: bool = Field(
        default=True, description="Refuse credentials without a session token (long-lived IAM user keys)")
    action_time_limit_s: float = Field(
        default=60.0, gt=0, le=900, description="Longest one action's child process may run before it is killed")
    request_timeout_s: float = Field(default=20.0, gt=0, description="Connect and read timeout of one AWS call")
    max_output_bytes: int = Field(default=256 * 1024, ge=1024, description="Output of a child kept, at most")
