"""The rollout policy as the stages load it, and the audit record of each change to it.

Every process that acts on the rollout mode loads the policy file at start
(:func:`load_rollout_policy`). The approval service also compares it with the last policy on the
``rollout-policy`` audit chain and, when they differ, appends a record with the old and the new
policy (:func:`audit_policy_change`): a mode change is on the ledger whoever edited the file.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import yaml

from processors.audit import AuditSigner
from processors.errors import ConfigurationError
from processors.records import AuditRecord
from processors.remediation.modes import RolloutPolicy, parse_policy, policy_change
from streams.audit import AuditWriter, read_chains
from streams.publish import OutgoingRecord
from streams.serde import AvroSerde
from streams.settings import KafkaSettings
from streams.static_inputs import read_text

__all__ = ["POLICY_CHAIN", "POLICY_CHANGED", "audit_policy_change", "load_rollout_policy", "last_audited_policy"]

log = logging.getLogger(__name__)

POLICY_CHAIN = "rollout-policy"
POLICY_CHANGED = "rollout_policy_changed"


def load_rollout_policy(path: Path) -> RolloutPolicy:
    """Read and validate the rollout policy YAML file."""
    text = read_text(path, "rollout policy")
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"rollout policy {path} is not valid YAML: {exc}") from None
    return parse_policy(document, f"rollout policy {path}")


def last_audited_policy(records: list[AuditRecord]) -> RolloutPolicy | None:
    """The policy the last change record of the chain set (None when there is none)."""
    changes = [r for r in records if r.action == POLICY_CHANGED]
    if not changes:
        return None
    latest = max(changes, key=lambda r: r.sequence)
    return parse_policy(json.loads(latest.details_json)["new"], "audited rollout policy")


def audit_policy_change(policy: RolloutPolicy, path: Path, kafka: KafkaSettings, serde: AvroSerde, *,
                        topic: str, signer: AuditSigner) -> OutgoingRecord | None:
    """The audit record of ``policy`` replacing the last audited one (None when it is the same)."""
    chain = [record for (_, name), records in read_chains(kafka, serde, topic).items() if name == POLICY_CHAIN
             for record in records]
    change = policy_change(last_audited_policy(chain), policy)
    if change is None:
        return None
    writer = AuditWriter(POLICY_CHAIN, kafka, serde, signer=signer, topic=topic)
    writer.start()
    log.info("rollout policy changed old=%s new=%s file=%s", change.old_digest, change.new_digest, path)
    return writer.record("system", "approval-service", POLICY_CHANGED, outcome="ok",
                         details={**change.details, "old_digest": change.old_digest, "new_digest": change.new_digest,
                                  "file": str(path)})
