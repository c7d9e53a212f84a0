"""Plumbing for the Jira client: the auth header, JSON bodies, Jira's error envelope, JQL quoting."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx

from connectors.base import ConnectorError, ResponseFormatError
from connectors.jira.models import JiraErrorDetails
from connectors.jira.settings import BasicAuth, BearerAuth

__all__ = ["WorkflowError", "auth_header", "error_details", "jql_string", "json_object"]


class WorkflowError(ConnectorError):
    """No available transition leads where we asked (the project's workflow lacks one)."""


def auth_header(auth: BasicAuth | BearerAuth) -> str:
    """The ``Authorization`` value: ``Basic base64(email:token)`` or ``Bearer <token>``."""
    if isinstance(auth, BasicAuth):
        raw = f"{auth.email}:{auth.api_token.get_secret_value()}".encode()
        return "Basic " + base64.b64encode(raw).decode()
    return "Bearer " + auth.token.get_secret_value()


def json_object(response: httpx.Response) -> dict[str, Any]:
    """The response's JSON object; :class:`ResponseFormatError` for anything else."""
    try:
        value = response.json()
    except ValueError as exc:
        raise ResponseFormatError.about(response, "response body is not JSON", with_body=True) from exc
    if not isinstance(value, dict):
        raise ResponseFormatError.about(response, f"expected a JSON object, got {type(value).__name__}")
    return value


def jql_string(value: str) -> str:
    """``value`` as a double-quoted JQL string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def error_details(error: ConnectorError) -> JiraErrorDetails:
    """Jira's ``ErrorCollection`` from an error's body excerpt; empty when it is not one.

    The excerpt holds the first 300 characters of the body, so a very long collection may not
    parse; the raw excerpt is still on the error then.
    """
    try:
        raw = json.loads(error.body_excerpt)
    except ValueError:
        return JiraErrorDetails()
    if not isinstance(raw, dict):
        return JiraErrorDetails()
    messages = raw.get("errorMessages") or []
    errors = raw.get("errors") or {}
    return JiraErrorDetails(
        error_messages=[str(m) for m in messages] if isinstance(messages, list) else [],
        errors={str(k): str(v) for k, v in errors.items()} if isinstance(errors, dict) else {},
    )
