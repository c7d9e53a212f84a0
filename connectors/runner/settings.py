"""Settings of the Azure/GCP runner plug-in: the ``runner`` section (``PRISMAFLOW_RUNNER_*``)."""

from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["RunnerSettings", "parse_command"]


def parse_command(text: str | None) -> tuple[str, ...]:
    """A runner command from its setting: a JSON array of strings (an argument vector, never shell text).

    None or empty text is no command. Raises ``ValueError`` for anything else than a non-empty array of
    non-empty strings whose first element is an absolute path.
    """
    if text is None or not text.strip():
        return ()
    try:
        value = json.loads(text)
    except ValueError:
        raise ValueError('must be a JSON array of strings, e.g. ["/usr/local/bin/az-runner", "--"]') from None
    if not isinstance(value, list) or not value or not all(isinstance(item, str) and item for item in value):
        raise ValueError("must be a non-empty JSON array of non-empty strings")
    if not value[0].startswith("/"):
        raise ValueError("the program must be an absolute path (no PATH look-up)")
    return tuple(value)


class RunnerSettings(BaseModel):
    """Which program runs Azure and GCP actions, and how long one may take."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    azure_command: str | None = Field(
        default=None, description='Runner for az actions, a JSON argument vector (e.g. ["/opt/runner/az"]); the '
                                "action's arguments follow it; unset: az actions are refused")
    gcloud_command: str | None = Field(
        default=None, description="Runner for gcloud actions, a JSON argument vector; unset: gcloud actions are refused")
    time_limit_s: float = Field(default=300.0, gt=0, le=3600, description="Longest one runner call may take")
    max_output_bytes: int = Field(default=256 * 1024, ge=1024, description="Output of a runner call kept, at most")

    @field_validator("azure_command", "gcloud_command")
    @classmethod
    def _argument_vector(cls, value: str | None) -> str | None:
        parse_command(value)
        return value
