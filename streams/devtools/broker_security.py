"""Secure listeners of the local broker: a mutual-TLS listener and a SASL_SSL listener with SCRAM.

Only when ``PRISMAFLOW_BROKER_SECURE_LISTENERS=true``: ``prismaflow broker start`` then also opens

* ``SSL://host:PRISMAFLOW_BROKER_SSL_PORT`` — TLS that requires a client certificate signed by the
  broker's CA (``ssl.client.auth=required``), as Strimzi's and MSK's mTLS listeners do;
* ``SASL_SSL://host:PRISMAFLOW_BROKER_SASL_SSL_PORT`` — TLS, then SCRAM-SHA-512 with one user, as
  MSK, Aiven or Confluent Platform run it, or OAUTHBEARER with a JWT signed by the local issuer's key
  (:mod:`streams.devtools.oidc_issuer` serves the token endpoint), as Confluent Cloud and Event Hubs
  take OIDC tokens. The broker checks the token's signature against a JWK set file and its audience.

The TLS material is throw-away, made with ``cryptography`` into ``<home>/tls`` on the first secure start
and kept for the next (so clients keep trusting the same CA): a CA, the broker's certificate (for
``localhost``, ``127.0.0.1`` and the configured host), a client certificate whose private key is
encrypted with a random password, and the OIDC issuer's key with its JWK set. Kafka 4 reads PEM directly (``ssl.keystore.type=PEM``), so no
keytool or openssl is run. The SCRAM user is created through the Admin API over the PLAINTEXT
listener once the broker answers (``alter_user_scram_credentials``), which works on fresh and
existing storage alike; its random password lives in ``<home>/tls/scram.password``.

:func:`mtls_client_settings`, :func:`scram_client_settings` and :func:`oauth_client_settings` give the
:class:`~streams.settings.KafkaSettings` a client needs for each listener and mechanism.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # public, not in its __all__
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from joserfc.jwk import RSAKey
from pydantic import SecretStr

from streams.errors import BrokerError
from streams.kafka_clients import KafkaClients
from streams.settings import BrokerSettings, KafkaSettings

__all__ = ["OAUTH_AUDIENCE", "OAUTH_KEY_ID", "SCRAM_MECHANISM", "TlsMaterial", "create_scram_user",
           "ensure_tls_material", "jvm_options", "listener_properties", "mtls_client_settings", "oauth_client_settings",
           "open_secure_listeners", "scram_client_settings", "wait_for_secure_listeners"]

SCRAM_MECHANISM = "SCRAM-SHA-512"
OAUTH_AUDIENCE = "prismaflow-local-broker"
"""The audience the broker expects in OAUTHBEARER tokens (``aud``)."""
OAUTH_KEY_ID = "prismaflow-local-issuer"
_VALID_FOR = dt.timedelta(days=825)


@dataclass(frozen=True)
class TlsMaterial:
    """The files of the local broker's throw-away PKI (all PEM) and the two random passwords."""

    folder: Path

    @property
    def ca_certificate(self) -> Path:
        return self.folder / "ca.pem"

    @property
    def broker_keystore(self) -> Path:
        """The broker's private key followed by its certificate chain (Kafka's PEM key store file)."""
        return self.folder / "broker-keystore.pem"

    @property
    def client_certificate(self) -> Path:
        return self.folder / "client.pem"

    @property
    def client_key(self) -> Path:
        """The client's private key, PKCS#8 encrypted with :attr:`client_key_password`."""
        return self.folder / "client.key"

    @property
    def oauth_issuer_key(self) -> Path:
        """The private key a local OIDC issuer signs tokens with (:mod:`streams.devtools.oidc_issuer`)."""
        return self.folder / "oauth-issuer.key"

    @property
    def oauth_jwks(self) -> Path:
        """The issuer's public key as a JWK set, which the broker validates OAUTHBEARER tokens with."""
        return self.folder / "oauth-jwks.json"

    @property
    def client_key_password_file(self) -> Path:
        return self.folder / "client.key.password"

    @property
    def scram_password_file(self) -> Path:
        return self.folder / "scram.password"

    @property
    def client_key_password(self) -> SecretStr:
        return SecretStr(self.client_key_password_file.read_text(encoding="utf-8").strip())

    @property
    def scram_password(self) -> SecretStr:
        return SecretStr(self.scram_password_file.read_text(encoding="utf-8").strip())

    def complete(self) -> bool:
        return all(path.is_file() for path in (self.ca_certificate, self.broker_keystore, self.client_certificate,
                                               self.client_key, self.client_key_password_file,
                                               self.scram_password_file, self.oauth_issuer_key, self.oauth_jwks))


def ensure_tls_material(folder: Path, host: str) -> TlsMaterial:
    """The TLS material in ``folder``, generated when any part is missing (all parts anew then)."""
    material = TlsMaterial(folder)
    if material.complete():
        return material
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)  # tolerate a little clock skew
    ca_key = _new_key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Prismaflow local broker CA (throw-away)")])
    ca = (_builder(ca_name, ca_name, ca_key, now)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    broker_key = _new_key()
    broker = (_builder(_name("prismaflow-local-broker"), ca_name, broker_key, now)
              .add_extension(x509.SubjectAlternativeName(_alt_names(host)), critical=False)
              .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                             critical=False)
              .sign(ca_key, hashes.SHA256()))
    client_key = _new_key()
    client = (_builder(_name("prismaflow-client"), ca_name, client_key, now)
              .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
              .sign(ca_key, hashes.SHA256()))
    key_password = secrets.token_urlsafe(18)
    _write(material.client_key_password_file, key_password + "\n")
    _write(material.scram_password_file, secrets.token_urlsafe(18) + "\n")
    _write(material.ca_certificate, _pem(ca))
    _write(material.broker_keystore, _key_pem(broker_key, None) + _pem(broker) + _pem(ca))
    _write(material.client_certificate, _pem(client))
    _write(material.client_key, _key_pem(client_key, key_password))
    issuer_key = _new_key()
    _write(material.oauth_issuer_key, _key_pem(issuer_key, None))
    jwk = RSAKey.import_key(_key_pem(issuer_key, None), parameters={"kid": OAUTH_KEY_ID, "use": "sig"})
    _write(material.oauth_jwks, json.dumps({"keys": [jwk.as_dict(private=False)]}) + "\n")
    return material


def listener_properties(settings: BrokerSettings, material: TlsMaterial) -> dict[str, str]:
    """server.properties entries for the two secure listeners (beside PLAINTEXT and CONTROLLER)."""
    s = settings
    return {
        "listeners": f"PLAINTEXT://{s.host}:{s.port},CONTROLLER://{s.host}:{s.controller_port},"
                     f"SSL://{s.host}:{s.ssl_port},SASL_SSL://{s.host}:{s.sasl_ssl_port}",
        "advertised.listeners": f"PLAINTEXT://{s.host}:{s.port},SSL://{s.host}:{s.ssl_port},"
                                f"SASL_SSL://{s.host}:{s.sasl_ssl_port}",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL",
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(material.broker_keystore),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(material.ca_certificate),
        "listener.name.ssl.ssl.client.auth": "required",
        "listener.name.sasl_ssl.sasl.enabled.mechanisms": f"{SCRAM_MECHANISM},OAUTHBEARER",
        f"listener.name.sasl_ssl.{SCRAM_MECHANISM.lower()}.sasl.jaas.config":
            "org.apache.kafka.common.security.scram.ScramLoginModule required;",
        # OAUTHBEARER: tokens signed by the local issuer's key (a JWK set file), for this audience.
        "listener.name.sasl_ssl.oauthbearer.sasl.jaas.config":
            "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;",
        "listener.name.sasl_ssl.oauthbearer.sasl.server.callback.handler.class":
            "org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler",
        # Kafka 4.1's default validator (DefaultJwtValidator built without a key resolver) checks a
        # token's claims but not its signature (a test pins that a stranger's token is refused), so
        # the broker-side validator is named here; it loads the JWK set below.
        "listener.name.sasl_ssl.sasl.oauthbearer.jwt.validator.class":  # read unprefixed by mechanism
            "org.apache.kafka.common.security.oauthbearer.BrokerJwtValidator",
        "listener.name.sasl_ssl.oauthbearer.sasl.oauthbearer.jwks.endpoint.url": material.oauth_jwks.as_uri(),
        "listener.name.sasl_ssl.oauthbearer.sasl.oauthbearer.expected.audience": OAUTH_AUDIENCE,
    }


def jvm_options(material: TlsMaterial) -> list[str]:
    """JVM options the secure listeners need: Kafka 4 fetches JWKS only from URLs it is allowed to."""
    return [f"-Dorg.apache.kafka.sasl.oauthbearer.allowed.urls={material.oauth_jwks.as_uri()}"]


def oauth_client_settings(settings: BrokerSettings, material: TlsMaterial, token_endpoint_url: str,
                          client_id: str, client_secret: str, **overrides: object) -> KafkaSettings:
    """Client settings for OAUTHBEARER on the SASL_SSL listener, tokens from a local OIDC issuer."""
    return KafkaSettings.model_validate({
        "bootstrap_servers": f"{settings.host}:{settings.sasl_ssl_port}", "security_protocol": "SASL_SSL",
        "ssl_ca_location": str(material.ca_certificate), "sasl_mechanism": "OAUTHBEARER",
        "sasl_oauthbearer_client_id": client_id, "sasl_oauthbearer_client_secret": SecretStr(client_secret),
        "sasl_oauthbearer_token_endpoint_url": token_endpoint_url, "sasl_oauthbearer_scope": "kafka", **overrides})


def mtls_client_settings(settings: BrokerSettings, material: TlsMaterial, **overrides: object) -> KafkaSettings:
    """Client settings for the mutual-TLS listener: the CA, the client certificate and its key."""
    return KafkaSettings.model_validate({
        "bootstrap_servers": f"{settings.host}:{settings.ssl_port}", "security_protocol": "SSL",
        "ssl_ca_location": str(material.ca_certificate),
        "ssl_certificate_location": str(material.client_certificate),
        "ssl_key_location": str(material.client_key), "ssl_key_password": material.client_key_password,
        **overrides})


def scram_client_settings(settings: BrokerSettings, material: TlsMaterial, **overrides: object) -> KafkaSettings:
    """Client settings for the SASL_SSL listener: the CA, then SCRAM-SHA-512 as the broker's one user."""
    return KafkaSettings.model_validate({
        "bootstrap_servers": f"{settings.host}:{settings.sasl_ssl_port}", "security_protocol": "SASL_SSL",
        "ssl_ca_location": str(material.ca_certificate), "sasl_mechanism": SCRAM_MECHANISM,
        "sasl_username": settings.scram_username, "sasl_password": material.scram_password, **overrides})


def create_scram_user(settings: BrokerSettings, material: TlsMaterial, timeout_s: float) -> None:
    """Create (or reset) the SCRAM-SHA-512 user through the PLAINTEXT listener's Admin API."""
    admin = KafkaClients(KafkaSettings(bootstrap_servers=settings.bootstrap_servers)).admin(log_level=0)
    upsert = UserScramCredentialUpsertion(settings.scram_username,
                                          ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192),
                                          material.scram_password.get_secret_value().encode())
    try:
        for future in admin.alter_user_scram_credentials([upsert], request_timeout=timeout_s).values():
            future.result(timeout=timeout_s)
    except KafkaException as exc:
        raise BrokerError(f"creating the SCRAM user {settings.scram_username} failed: {exc}") from exc


def open_secure_listeners(settings: BrokerSettings, material: TlsMaterial, timeout_s: float) -> None:
    """Create the SCRAM user, then wait until both secure listeners let a client in (BrokerError if not)."""
    create_scram_user(settings, material, timeout_s)
    wait_for_secure_listeners(settings, material, timeout_s)


def wait_for_secure_listeners(settings: BrokerSettings, material: TlsMaterial, timeout_s: float) -> None:
    """Block until a client gets metadata through each secure listener (the SCRAM user's credential
    reaches the broker through the metadata log, a moment after it is created)."""
    deadline = time.monotonic() + timeout_s
    for name, client in (("SSL", mtls_client_settings(settings, material)),
                         ("SASL_SSL", scram_client_settings(settings, material))):
        admin = KafkaClients(client).admin(log_level=0)
        last_error: Exception | None = None
        while True:
            try:
                if admin.list_topics(timeout=min(5.0, max(0.5, deadline - time.monotonic()))).brokers:
                    break
            except KafkaException as exc:
                last_error = exc
            if time.monotonic() > deadline:
                raise BrokerError(f"the {name} listener at {client.bootstrap_servers} did not answer within "
                                  f"{timeout_s:.0f}s" + (f": {last_error}" if last_error else ""))
            time.sleep(0.3)


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Prismaflow local broker"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(subject: x509.Name, issuer: x509.Name, key: rsa.RSAPrivateKey, now: dt.datetime) -> x509.CertificateBuilder:
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + _VALID_FOR))


def _alt_names(host: str) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if host != "localhost":
            names.append(x509.DNSName(host))
    else:
        if str(address) != "127.0.0.1":
            names.append(x509.IPAddress(address))
    return names


def _pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def _key_pem(key: rsa.RSAPrivateKey, password: str | None) -> str:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password.encode()) if password else serialization.NoEncryption())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption).decode()


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
