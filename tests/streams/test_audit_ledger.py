"""``prismaflow audit verify|keygen`` and the signing key's configuration, on the real broker.

The attacker here can write ``prisma.audit`` (a producer with the topic's ACL) but holds no signing
key: it appends a record that continues the SHA-256 chain correctly and copies the last signature.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from processors.audit import AuditSigner, record_hash
from processors.errors import ConfigurationError
from processors.records import AuditRecord
from streams.audit import AuditWriter, local_signing_key
from streams.cli import main
from streams.compose import audit_writer
from streams.config import PrismaflowSettings
from streams.config.audit import AuditSettings
from streams.serde import AvroSerde
from streams.settings import KafkaSettings
from streams.topics import AUDIT, create_topics
from tests.audit_keys import TEST_SIGNER


@dataclass(frozen=True)
class Ledger:
    """An audit topic of its own on the real broker, with what writes to it; the CLI points at it."""

    topic: str
    kafka: KafkaSettings
    serde: AvroSerde

    def writer(self, chain: str) -> AuditWriter:
        """A started writer of ``chain`` signing with the tests' key."""
        writer = AuditWriter(chain, self.kafka, self.serde, signer=TEST_SIGNER, topic=self.topic)
        writer.start()
        return writer

    def append(self, chain: str, records: list[AuditRecord]) -> None:
        """Produce ``records`` as they are (an attacker with the topic's ACL can do the same)."""
        producer = Producer(self.kafka.client_config())
        for record in records:
            producer.produce(self.topic, key=chain.encode(), value=self.serde.encode(record, topic=self.topic))
        assert producer.flush(10) == 0


@pytest.fixture
def ledger(kafka_bootstrap: str, topic_prefix: str, monkeypatch: pytest.MonkeyPatch) -> Ledger:
    create_topics(AdminClient({"bootstrap.servers": kafka_bootstrap}), (AUDIT,), prefix=topic_prefix)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    return Ledger(topic_prefix + AUDIT.name, KafkaSettings(bootstrap_servers=kafka_bootstrap), AvroSerde())


@pytest.mark.broker
def test_verify_names_the_forged_record_by_offset_chain_and_key(
    ledger: Ledger, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    writer = ledger.writer("approvals/0")
    genuine = [writer.record("person", "alice@example.com", "fix_approved", alert_id=f"P-{i}").value for i in range(3)]
    ledger.append("approvals/0", genuine)  # type: ignore[arg-type]
    monkeypatch.setenv("PRISMAFLOW_AUDIT_VERIFY_KEYS__TESTS", TEST_SIGNER.public_key_text())
    assert main(["audit", "verify", "--topic", ledger.topic]) == 0
    assert "accepted keys tests" in capsys.readouterr().out

    last = genuine[-1]
    assert isinstance(last, AuditRecord)
    forged = last.model_copy(update={"record_id": "forged", "sequence": 3, "prev_hash": last.hash,
                                     "actor": "mallory@example.com", "alert_id": "P-9"})
    forged = forged.model_copy(update={"hash": record_hash(forged)})  # a valid SHA-256 link; the old signature
    ledger.append("approvals/0", [forged])

    assert main(["audit", "verify", "--topic", ledger.topic]) == 1
    out = capsys.readouterr().out
    assert "chain approvals/0: 4 records, sequences 0..3" in out
    first = next(line for line in out.splitlines() if "first bad record" in line)
    offsets = [int(part.split()[0]) for part in out.split("offset=")[1:]]
    assert first.strip().startswith("first bad record: partition 0 offset ") and " key approvals/0 " in first
    assert "key_id tests: bad_signature" in first and offsets and all(o >= 3 for o in offsets)


@pytest.mark.broker
def test_verify_with_no_key_configured_accepts_nothing(ledger: Ledger, capsys: pytest.CaptureFixture[str]) -> None:
    writer = ledger.writer("sync.jira/0")
    ledger.append("sync.jira/0", [writer.record("system", "sync", "synced").value])  # type: ignore[list-item]
    assert main(["audit", "verify", "--topic", ledger.topic]) == 1
    captured = capsys.readouterr()
    assert "unknown_key" in captured.out and "no audit keys configured" in captured.err


def test_a_process_that_writes_audit_records_refuses_to_start_without_a_signing_key() -> None:
    with pytest.raises(ConfigurationError, match="no audit signing key.*never written unsigned"):
        audit_writer("jira", PrismaflowSettings(), AvroSerde())
    with pytest.raises(ConfigurationError, match="PRISMAFLOW_AUDIT_SIGNING_KEY") as caught:
        AuditSettings.model_validate({"signing_key": "tests:bm90LWEta2V5"}).signer()
    assert "bm90LWEta2V5" not in str(caught.value)
    keyed = PrismaflowSettings(audit=AuditSettings.model_validate({"signing_key": TEST_SIGNER.secret_text()}))
    assert audit_writer("jira", keyed, AvroSerde()).signer.key_id == "tests"


def test_the_signing_key_is_read_from_the_secrets_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "prismaflow_audit_signing_key").write_text(TEST_SIGNER.secret_text() + "\n")
    monkeypatch.setenv("PRISMAFLOW_SECRETS_DIR", str(tmp_path))
    assert PrismaflowSettings().audit.signer().public_key_text() == TEST_SIGNER.public_key_text()


def test_keygen_writes_an_owner_only_key_never_overwrites_it_and_prints_the_public_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "keys" / "prismaflow_audit_signing_key"
    assert main(["audit", "keygen", "--key-id", "prod_2026", "--out", str(out)]) == 0
    signer = AuditSigner.from_secret(out.read_text())
    assert signer.key_id == "prod_2026" and stat.S_IMODE(os.stat(out).st_mode) == 0o600
    printed = capsys.readouterr().out
    assert f"PRISMAFLOW_AUDIT_VERIFY_KEYS__PROD_2026={signer.public_key_text()}" in printed
    assert out.read_text().split(":")[1].strip() not in printed  # the private key is only in the file
    assert main(["audit", "keygen", "--key-id", "prod_2027", "--out", str(out)]) == 2
    assert AuditSigner.from_secret(out.read_text()).key_id == "prod_2026"


def test_the_local_key_is_generated_once_then_reused(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "prismaflow_audit_signing_key"
    first, generated = local_signing_key(path, key_id="demo_local")
    again, generated_again = local_signing_key(path, key_id="demo_local")
    assert (generated, generated_again) == (True, False)
    assert again.public_key_text() == first.public_key_text()
