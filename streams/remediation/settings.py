"""The remediation section of the settings tree (``PRISMAFLOW_REMEDIATION_*``): the rollout policy
file, the approval SLA, the decision signing key and where the approval service listens."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from processors.errors import ConfigurationError
from processors.remediation.approval import ApprovalRules
from processors.remediation.signing import SigningKey
from streams.settings import SettingsSection
from streams.static_inputs import package_dir

__all__ = ["DEFAULT_ROLLOUT_POLICY_PATH", "RemediationSettings"]

#: The rollout policy shipped with the code (``processors/remediation/rollout.yaml``).
DEFAULT_ROLLOUT_POLICY_PATH = package_dir("processors.remediation") / "rollout.yaml"


class RemediationSettings(SettingsSection):
    """Rollout modes, the approval SLA and the approval service."""

    rollout_policy_file: Path = Field(
        default=DEFAULT_ROLLOUT_POLICY_PATH,
        description="Rollout policy YAML: monitor / assist / auto per account group, account and environment")
    sla_hours: float = Field(default=24.0, gt=0, description="Hours approvers have before a request expires")
    escalate_after_hours: float = Field(
        default=18.0, gt=0, description="Hours after which a still pending request is escalated (before it expires)")
    escalation_channel: str = Field(default="#security-oncall",
                                    description="Chat channel or rota an overdue request is escalated to")
    escalate_to_chat: bool = Field(
        default=True, description="Post an overdue request to `escalation_channel` through the chat webhook "
                                  "(`PRISMAFLOW_CHAT_*`); retried on every SLA check until it is delivered")
    signing_key: SecretStr | None = Field(
        default=None, description="Secret (at least 16 bytes) the approval service signs and verifies decisions "
                                  "with, HMAC-SHA256 (secret; e.g. file `prismaflow_remediation_signing_key`)")
    signing_key_id: str = Field(default="k1", description="Id of the signing key, recorded on every decision")
    previous_signing_keys: dict[str, SecretStr] = Field(
        default={}, description="Retired decision signing keys, by key id: still accepted when a decision is verified "
                                "(votes and approved outcomes signed before a rotation), never used to sign. One "
                                "`PRISMAFLOW_REMEDIATION_PREVIOUS_SIGNING_KEYS__<KEY ID>` variable or secrets file "
                                "`prismaflow_remediation_previous_signing_keys__<key id>` each (secret; ids in lower case)")
    api_token: SecretStr | None = Field(
        default=None, description="Bearer token the approval channels (console, chat, tracker sync) present to POST "
                                  "decisions to the approval service (secret)")
    service_host: str = Field(default="127.0.0.1", description="Address the approval service's web API listens on")
    service_port: int = Field(default=6066, ge=1, le=65535, description="Port of the approval service's web API")
    timer_interval_s: float = Field(default=30.0, gt=0, description="Seconds between two SLA checks of the pending table")
    dry_run: bool = Field(
        default=True, description="The executor checks each approved plan without changing anything and reports the "
                                  "exact calls (dry run); set false, once the dry runs read right, to apply fixes")

    def approval_rules(self) -> ApprovalRules:
        return ApprovalRules(sla_hours=self.sla_hours, escalate_after_hours=self.escalate_after_hours,
                             escalation_channel=self.escalation_channel)

    def signing_keys(self) -> dict[str, SigningKey]:
        """The keys decisions are verified with: the signing key under ``signing_key_id`` and every retired key
        of ``previous_signing_keys``; refuses to go on without a signing key, or with a retired key that
        reuses the signing key's id. Whoever signs takes ``keys[signing_key_id]``."""
        if self.signing_key is None:
            raise ConfigurationError("PRISMAFLOW_REMEDIATION_SIGNING_KEY is not set: decisions cannot be signed")
        if self.signing_key_id != self.signing_key_id.lower():
            # Variable names are read case-insensitively, so a retired key's id comes back in lower case: an
            # upper-case id would stop verifying the moment the key is rotated out.
            raise ConfigurationError(f"PRISMAFLOW_REMEDIATION_SIGNING_KEY_ID: use a lower-case key id, not "
                                     f"{self.signing_key_id!r}")
        if self.signing_key_id in self.previous_signing_keys:
            raise ConfigurationError(f"PRISMAFLOW_REMEDIATION_PREVIOUS_SIGNING_KEYS: {self.signing_key_id!r} is the "
                                     "current key's id; a rotated key needs a new id")
        keys: dict[str, SigningKey] = {}
        named = {**{f"PREVIOUS_SIGNING_KEYS__{key_id}": (key_id, secret)
                    for key_id, secret in self.previous_signing_keys.items()},
                 "SIGNING_KEY": (self.signing_key_id, self.signing_key)}
        for setting, (key_id, secret) in named.items():
            try:
                keys[key_id] = SigningKey(key_id, secret.get_secret_value().encode("utf-8"))
            except ValueError as exc:
                raise ConfigurationError(f"PRISMAFLOW_REMEDIATION_{setting}: {exc}") from None
        return keys
