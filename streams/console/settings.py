"""The console's section of the settings tree (``PRISMAFLOW_CONSOLE_*``): where it listens, how it
signs sessions and one-click links, who may log in, and how chat and tracker users map to approvers.

Secrets (:class:`~pydantic.SecretStr`) come from the secrets folder in a deployment
(``prismaflow_console_session_secret``, ``prismaflow_console_link_secret``,
``prismaflow_console_slack_signing_secret``, ``prismaflow_console_approvals_token``), never from the
chart's values.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from streams.settings import SettingsSection

__all__ = ["ConsoleSettings"]


class ConsoleSettings(SettingsSection):
    """The approval console (``prismaflow console``) and its Slack and Jira approval channels."""

    host: str = Field(default="127.0.0.1", description="Address the console listens on (0.0.0.0 in containers)")
    port: int = Field(default=8290, ge=1, le=65535, description="Port the console listens on")
    base_url: str = Field(
        default="http://127.0.0.1:8290",
        description="The console's public URL, used in the signed one-click links posted to chat")
    approvals_url: str | None = Field(
        default=None, description="Base URL of the approval service's web API the console votes and reads "
                                  "through (e.g. http://prismaflow-approvals:6066); unset: "
                                  "http://<PRISMAFLOW_REMEDIATION_SERVICE_HOST>:<PRISMAFLOW_REMEDIATION_SERVICE_PORT>")
    approvals_token: SecretStr | None = Field(
        default=None, description="Bearer token of the approval service's API (secret); unset: "
                                  "PRISMAFLOW_REMEDIATION_API_TOKEN, the token the service itself checks")
    users_file: Path | None = Field(
        default=None, description="YAML user store: `users: [{name, role, password_hash}]` with argon2 hashes "
                                  "(`prismaflow console hash-password` makes one); roles viewer, approver, admin")
    session_secret: SecretStr | None = Field(
        default=None, description="Key that signs the session cookie (secret; 32+ random bytes)")
    session_max_age_s: int = Field(default=8 * 3600, ge=60, description="A login lasts this long")
    secure_cookies: bool = Field(
        default=True, description="Send the session cookie over HTTPS only (off only for a console on plain "
                                  "http://127.0.0.1)")
    link_secret: SecretStr | None = Field(
        default=None, description="HMAC key of the one-click links `/r/<request id>?sig=...` (secret)")
    link_ttl_s: int = Field(default=24 * 3600, ge=60, description="How long a one-click link stays valid")
    slack_signing_secret: SecretStr | None = Field(
        default=None, description="Slack app signing secret: checks X-Slack-Signature on button clicks (secret); "
                                  "unset: no Slack interactivity endpoint")
    slack_approvers: dict[str, str] = Field(
        default_factory=dict, description="Slack user id to approver identity, one `PRISMAFLOW_CONSOLE_SLACK_"
                                          "APPROVERS__<USER ID>=<identity>` each; other Slack users are refused")
    jira_approvers: dict[str, str] = Field(
        default_factory=dict, description="Jira accountId to approver identity, one `PRISMAFLOW_CONSOLE_JIRA_"
                                          "APPROVERS__<ACCOUNT ID>=<identity>` each; other transitions are ignored")
    jira_pending_status: str = Field(default="Pending Approval", description="Jira status of a ticket awaiting a vote")
    jira_approved_status: str = Field(default="Approved", description="Moving a ticket here is an approval")
    jira_rejected_status: str = Field(default="Rejected", description="Moving a ticket here is a rejection")
    oidc_issuer: str | None = Field(
        default=None, description="OpenID Connect provider (issuer URL, as in its ID tokens); set with the client "
                                  "and endpoints below to offer single sign-on next to the local users")
    oidc_client_id: str | None = Field(default=None, description="The console's client id at the provider")
    oidc_client_secret: SecretStr | None = Field(default=None, description="The console's client secret (secret)")
    oidc_authorization_endpoint: str | None = Field(
        default=None, description="The provider's authorization endpoint (its discovery document's "
                                  "`authorization_endpoint`)")
    oidc_token_endpoint: str | None = Field(
        default=None, description="The provider's token endpoint (discovery's `token_endpoint`; HTTPS)")
    oidc_identity_claim: str = Field(default="email", description="ID token claim that names the person")
    oidc_roles: dict[str, str] = Field(
        default_factory=dict, description="Identity (the claim's value) to role (viewer, approver, admin), one "
                                          "`PRISMAFLOW_CONSOLE_OIDC_ROLES__<IDENTITY>=<role>` each; others are refused")
