"""The pipeline over the secure listeners a managed Kafka offers, on a real broker: mutual TLS (a
client certificate required), SASL_SSL with SCRAM-SHA-512, and SASL_SSL with OAUTHBEARER tokens that
librdkafka fetches itself from an OIDC token endpoint (client credentials; a local issuer).

A broker of its own, started by the launcher with ``secure_listeners`` on free ports in its own home
(the session's broker stays PLAINTEXT only). Through each listener: raw alerts are produced, the core
stage scores them and the SIEM sink turns the scored alerts into SIEM events, every client of the
pipeline built from the listener's :class:`~streams.settings.KafkaSettings` and nothing else. Then
the refusals: no client certificate, a wrong SCRAM password, a wrong OIDC client secret, and tokens
the broker must not take (signed by another key, issued for another audience).
"""

from __future__ import annotations

import logging
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException
from pydantic import SecretStr

from processors.models import ScoredAlert
from processors.pipeline import raw_alert_key
from processors.records import SiemEvent
from streams.config import PrismaflowSettings
from streams.config.stages import WorkerSettings
from streams.compose import build_sink_worker
from streams.devtools.broker import LocalBroker
from streams.devtools.broker_security import (
    ensure_tls_material,
    mtls_client_settings,
    oauth_client_settings,
    scram_client_settings,
)
from streams.devtools.oidc_issuer import oidc_issuer_app
from streams.embedded import ServedApp, ThreadedSink, ThreadedWorker
from streams.kafka_clients import KafkaClients
from streams.serde import AvroSerde
from streams.settings import BrokerSettings, KafkaSettings
from streams.topics import CATALOGUE, RAW_ALERTS, SCORED_ALERTS, SIEM_EVENTS, create_topics
from tests.kafka_helpers import produce_models, read_topic
from tests.streams.test_core_pipeline import _traffic

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def secure_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
    """A broker of this module's own with the mTLS and SASL_SSL/SCRAM listeners, stopped at the end."""
    settings = BrokerSettings(home=tmp_path_factory.mktemp("secure-kafka"), port=_free_port(),
                              controller_port=_free_port(), ssl_port=_free_port(), sasl_ssl_port=_free_port(),
                              secure_listeners=True, heap="512m")
    broker = LocalBroker(settings)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


OIDC_CLIENT, OIDC_SECRET = "prismaflow-workers", "oidc-s3cret-4b1d"


@pytest.fixture(scope="module")
def token_endpoint(secure_broker: LocalBroker) -> Iterator[str]:
    """The URL of a local OIDC token endpoint that signs with the key whose JWK set the broker checks."""
    served = ServedApp(oidc_issuer_app(secure_broker.tls.oauth_issuer_key, {OIDC_CLIENT: OIDC_SECRET}))
    try:
        yield f"http://127.0.0.1:{served.port}/token"
    finally:
        served.stop()


LISTENERS: dict[str, Callable[[LocalBroker, str], KafkaSettings]] = {
    "mutual TLS": lambda broker, _: mtls_client_settings(broker.settings, broker.tls),
    "SASL_SSL with SCRAM-SHA-512": lambda broker, _: scram_client_settings(broker.settings, broker.tls),
    "SASL_SSL with OAUTHBEARER (OIDC client credentials)": lambda broker, url: oauth_client_settings(
        broker.settings, broker.tls, url, OIDC_CLIENT, OIDC_SECRET),
}


@pytest.mark.parametrize("listener", LISTENERS)
def test_the_pipeline_runs_end_to_end_over_the_secure_listener(
    secure_broker: LocalBroker, token_endpoint: str, listener: str, unique_name: Callable[[str], str],
) -> None:
    kafka = LISTENERS[listener](secure_broker, token_endpoint)
    assert kafka.security_protocol in ("SSL", "SASL_SSL")
    assert kafka.bootstrap_servers != secure_broker.bootstrap_servers  # not the PLAINTEXT listener
    prefix = unique_name("secure") + "."
    create_topics(KafkaClients(kafka).admin(), CATALOGUE, prefix=prefix)
    serde = AvroSerde()
    records, expected, _ = _traffic(400, seed=23)
    produce_models(kafka, serde, prefix + RAW_ALERTS.name, [(raw_alert_key(r), r) for r in records])

    settings = PrismaflowSettings(kafka=kafka, worker=WorkerSettings(
        topic_prefix=prefix, instance_id="0", group_prefix=prefix + "g", max_batch=500))
    core = ThreadedWorker("core", settings, serde)
    sink = ThreadedSink(build_sink_worker("siem", settings, serde))
    try:
        scored_messages = read_topic(kafka, prefix + SCORED_ALERTS.name, expect=sum(expected.values()), settle_s=1.0)
        scored = [serde.decode(m.value(), ScoredAlert, topic=prefix + SCORED_ALERTS.name) for m in scored_messages]
        own = Counter(s.alert.alert_id for s in scored if not s.incident_update)
        assert own == expected  # what the pure pipeline scores of this traffic, no more, no less

        alert_ids = {s.alert.alert_id for s in scored}
        events = read_topic(kafka, prefix + SIEM_EVENTS.name, expect=len(alert_ids), settle_s=1.0)
        decoded = [serde.decode(m.value(), SiemEvent, topic=prefix + SIEM_EVENTS.name) for m in events]
        assert {m.key().decode() for m in events} == alert_ids
        assert all(event.event_id for event in decoded)
    finally:
        sink.stop()
        core.stop()


def _first_errors(kafka: KafkaSettings, timeout_s: float = 20.0) -> list[KafkaError]:
    """The error events a producer on ``kafka`` reports while it tries to write one record."""
    errors: list[KafkaError] = []
    delivered: list[Any] = []
    producer = KafkaClients(kafka).producer(error_cb=errors.append, **{"message.timeout.ms": 5000})
    producer.produce("prisma.alerts.raw", b"value", on_delivery=lambda error, message: delivered.append(message))
    deadline = time.monotonic() + timeout_s
    while not errors and time.monotonic() < deadline:
        producer.poll(0.2)
    producer.flush(6)
    assert not any(message.error() is None for message in delivered), "a record got through"
    return errors


def test_the_mtls_listener_refuses_a_client_without_a_certificate(
    secure_broker: LocalBroker, caplog: pytest.LogCaptureFixture,
) -> None:
    kafka = mtls_client_settings(secure_broker.settings, secure_broker.tls, ssl_certificate_location=None,
                                 ssl_key_location=None, ssl_key_password=None)
    with caplog.at_level(logging.ERROR, logger="prismaflow.kafka"):
        errors = _first_errors(kafka)
    assert errors and errors[0].code() == KafkaError._TRANSPORT
    assert any("certificate" in error.str() for error in errors)  # the broker's TLS alert, e.g. "bad certificate"
    assert any("certificate" in record.getMessage() for record in caplog.records)
    # The broker also lets no metadata out: only a certificate signed by its CA opens the listener.
    with pytest.raises(KafkaException):
        KafkaClients(kafka).admin().list_topics(timeout=5)


def test_a_wrong_scram_password_is_an_authentication_error_that_names_the_mechanism_and_not_the_password(
    secure_broker: LocalBroker, caplog: pytest.LogCaptureFixture,
) -> None:
    wrong = "not-the-password-3f9c"
    kafka = scram_client_settings(secure_broker.settings, secure_broker.tls, sasl_password=SecretStr(wrong))
    with caplog.at_level(logging.ERROR, logger="prismaflow.kafka"):
        errors = _first_errors(kafka)
    assert errors[0].code() == KafkaError._AUTHENTICATION
    assert "invalid credentials with SASL mechanism SCRAM-SHA-512" in errors[0].str()
    lines = [record.getMessage() for record in caplog.records]
    assert any("SASL authentication error" in line for line in lines)  # the operator sees why, once
    assert not any(wrong in line for line in lines)


def test_a_wrong_oidc_client_secret_fails_at_the_token_endpoint_naming_the_mechanism(
    secure_broker: LocalBroker, token_endpoint: str, caplog: pytest.LogCaptureFixture,
) -> None:
    wrong = "not-the-secret-77aa"
    kafka = oauth_client_settings(secure_broker.settings, secure_broker.tls, token_endpoint, OIDC_CLIENT, wrong)
    with caplog.at_level(logging.WARNING, logger="prismaflow.kafka"):
        errors = _first_errors(kafka)
    assert any("SASL OAUTHBEARER token" in error.str() and "invalid_client" in error.str() for error in errors)
    assert not any(wrong in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize("flaw", ["signed by a key the broker does not trust", "issued for another audience"])
def test_the_broker_checks_the_tokens_signature_and_audience(
    secure_broker: LocalBroker, tmp_path: Path, flaw: str,
) -> None:
    """The token endpoint answers, but the broker validates what it got against its JWK set and audience."""
    if flaw.startswith("signed"):
        key = ensure_tls_material(tmp_path / "other", "127.0.0.1").oauth_issuer_key  # same kind, not the broker's
        app = oidc_issuer_app(key, {OIDC_CLIENT: OIDC_SECRET})
    else:
        app = oidc_issuer_app(secure_broker.tls.oauth_issuer_key, {OIDC_CLIENT: OIDC_SECRET}, audience="another-cluster")
    served = ServedApp(app)
    try:
        kafka = oauth_client_settings(secure_broker.settings, secure_broker.tls,
                                      f"http://127.0.0.1:{served.port}/token", OIDC_CLIENT, OIDC_SECRET)
        errors = _first_errors(kafka)
    finally:
        served.stop()
    assert errors and errors[0].code() == KafkaError._AUTHENTICATION
    assert "invalid_token" in errors[0].str()  # the broker's OAUTHBEARER answer (RFC 7628)
