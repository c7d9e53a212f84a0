"""The local broker's secure listeners as written, without starting a broker: the throw-away PKI
(a CA that signed the broker's and the client's certificates, the client key encrypted), the
server.properties entries, and the default start left exactly as it was (PLAINTEXT only)."""

from __future__ import annotations

import ipaddress
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from streams.devtools.broker import LocalBroker
from streams.devtools.broker_security import (
    OAUTH_AUDIENCE,
    ensure_tls_material,
    mtls_client_settings,
    scram_client_settings,
)
from streams.kafka_clients import KafkaClients
from streams.settings import BrokerSettings


def _properties(path: Path) -> dict[str, str]:
    lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def _signed_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    public_key = issuer.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    assert certificate.signature_hash_algorithm is not None
    try:
        public_key.verify(certificate.signature, certificate.tbs_certificate_bytes, padding.PKCS1v15(),
                          certificate.signature_hash_algorithm)
    except Exception:  # noqa: BLE001 - any failure means "not signed by it"
        return False
    return True


def test_the_default_broker_has_only_its_plaintext_and_controller_listeners(tmp_path: Path) -> None:
    broker = LocalBroker(BrokerSettings(home=tmp_path, port=19092, controller_port=19093))
    broker.home.mkdir(exist_ok=True)
    broker._write_config()
    properties = _properties(broker.config_file)
    assert properties["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert properties["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19092"
    assert not any(key.startswith(("ssl.", "listener.name.", "sasl.")) for key in properties)
    assert not (tmp_path / "tls").exists()


def test_secure_listeners_add_mutual_tls_and_scram_over_tls_on_their_own_ports(tmp_path: Path) -> None:
    settings = BrokerSettings(home=tmp_path, port=19092, controller_port=19093, ssl_port=19094, sasl_ssl_port=19095,
                              secure_listeners=True)
    broker = LocalBroker(settings)
    ensure_tls_material(broker.tls.folder, settings.host)
    broker._write_config()
    properties = _properties(broker.config_file)
    assert properties["listeners"] == ("PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093,"
                                       "SSL://127.0.0.1:19094,SASL_SSL://127.0.0.1:19095")
    assert properties["advertised.listeners"] == ("PLAINTEXT://127.0.0.1:19092,SSL://127.0.0.1:19094,"
                                                  "SASL_SSL://127.0.0.1:19095")
    assert properties["listener.name.ssl.ssl.client.auth"] == "required"  # mTLS: no certificate, no entry
    assert properties["listener.name.sasl_ssl.sasl.enabled.mechanisms"] == "SCRAM-SHA-512,OAUTHBEARER"
    oauthbearer = "listener.name.sasl_ssl.oauthbearer."
    assert properties[oauthbearer + "sasl.oauthbearer.jwks.endpoint.url"] == broker.tls.oauth_jwks.as_uri()
    assert properties[oauthbearer + "sasl.oauthbearer.expected.audience"] == OAUTH_AUDIENCE
    assert (properties["ssl.keystore.type"], properties["ssl.truststore.type"]) == ("PEM", "PEM")
    assert Path(properties["ssl.keystore.location"]) == broker.tls.broker_keystore
    assert properties["inter.broker.listener.name"] == "PLAINTEXT"
    assert broker.status().secure_listeners == f"ssl=127.0.0.1:19094 sasl_ssl=127.0.0.1:19095 tls={broker.tls.folder}"


def test_the_throw_away_ca_signed_the_broker_and_client_certificates_for_the_right_uses(tmp_path: Path) -> None:
    material = ensure_tls_material(tmp_path / "tls", "127.0.0.1")
    ca = x509.load_pem_x509_certificate(material.ca_certificate.read_bytes())
    keystore = material.broker_keystore.read_bytes()
    broker_chain = x509.load_pem_x509_certificates(keystore)
    client = x509.load_pem_x509_certificate(material.client_certificate.read_bytes())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert _signed_by(broker_chain[0], ca) and _signed_by(client, ca)
    assert not _signed_by(ca, broker_chain[0])
    names = broker_chain[0].extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("127.0.0.1") in names.get_values_for_type(x509.IPAddress)
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    uses = client.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(uses) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    # Kafka's PEM key store file: the broker's unencrypted PKCS#8 key, then its chain.
    assert keystore.startswith(b"-----BEGIN PRIVATE KEY-----")
    # The client key needs its password: the settings carry it as a secret.
    with pytest.raises(TypeError):
        serialization.load_pem_private_key(material.client_key.read_bytes(), password=None)
    password = material.client_key_password.get_secret_value().encode()
    assert serialization.load_pem_private_key(material.client_key.read_bytes(), password=password)
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in material.folder.iterdir())


def test_the_material_is_kept_across_starts_so_clients_keep_trusting_the_same_ca(tmp_path: Path) -> None:
    first = ensure_tls_material(tmp_path / "tls", "127.0.0.1").ca_certificate.read_bytes()
    assert ensure_tls_material(tmp_path / "tls", "127.0.0.1").ca_certificate.read_bytes() == first
    (tmp_path / "tls" / "client.key").unlink()  # a part missing: all of it anew
    assert ensure_tls_material(tmp_path / "tls", "127.0.0.1").ca_certificate.read_bytes() != first


def test_client_settings_for_each_listener_are_ones_librdkafka_accepts(tmp_path: Path) -> None:
    settings = BrokerSettings(home=tmp_path, ssl_port=19094, sasl_ssl_port=19095, secure_listeners=True)
    material = ensure_tls_material(tmp_path / "tls", settings.host)
    mtls, scram = mtls_client_settings(settings, material), scram_client_settings(settings, material)
    assert (mtls.bootstrap_servers, mtls.security_protocol) == ("127.0.0.1:19094", "SSL")
    assert mtls.client_config()["ssl.key.password"] == material.client_key_password.get_secret_value()
    assert (scram.bootstrap_servers, scram.sasl_mechanism, scram.sasl_username) == (
        "127.0.0.1:19095", "SCRAM-SHA-512", "prismaflow")
    for client in (mtls, scram):  # librdkafka loads the CA, certificate and encrypted key when built
        assert KafkaClients(client).admin() is not None
