"""The Kafka client factory: every client gets the connection settings, its role's defaults, what
the caller asks for, and last the librdkafka passthrough (``KAFKA_CONFIG__*``, ``KAFKA_CONFIG_FILE``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from confluent_kafka import TopicPartition

from processors.errors import ConfigurationError
from streams.config import load_settings
from streams.kafka_clients import KafkaClients, property_name
from streams.settings import KafkaSettings
from streams.topic_reader import read_to_end
from tests.kafka_helpers import create_topic


def test_a_passthrough_variable_names_its_librdkafka_property_in_lower_case_with_dots() -> None:
    assert property_name("SSL_CA_LOCATION") == "ssl.ca.location"
    assert property_name("Socket_Keepalive_Enable") == "socket.keepalive.enable"


def test_kafka_config_variables_fill_the_passthrough_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_CONFIG__SSL_CA_LOCATION", "/etc/prismaflow/ca.pem")
    monkeypatch.setenv("KAFKA_CONFIG_FILE", "/etc/prismaflow/client.properties")
    settings = load_settings().kafka
    assert {property_name(k): v for k, v in settings.config.items()} == {"ssl.ca.location": "/etc/prismaflow/ca.pem"}
    assert settings.config_file == Path("/etc/prismaflow/client.properties")


def test_a_passthrough_property_reaches_every_kind_of_client() -> None:
    clients = KafkaClients(KafkaSettings(config={"SSL_CA_LOCATION": "/etc/prismaflow/ca.pem",
                                                 "socket_keepalive_enable": "true"}))
    for config in (clients.producer_config(), clients.consumer_config("g"), clients.config()):
        assert config["ssl.ca.location"] == "/etc/prismaflow/ca.pem"
        assert config["socket.keepalive.enable"] == "true"


def test_the_passthrough_wins_over_role_defaults_and_what_the_caller_asks_for() -> None:
    settings = KafkaSettings(bootstrap_servers="kafka-1:9092", config={"LINGER_MS": "50", "COMPRESSION_TYPE": "lz4"})
    config = KafkaClients(settings).producer_config(**{"linger.ms": 1})
    assert config["linger.ms"] == "50" and config["compression.type"] == "lz4"
    assert config["acks"] == "all" and config["bootstrap.servers"] == "kafka-1:9092"  # the rest stays


def test_the_properties_file_is_read_and_the_variables_win_over_it(tmp_path: Path) -> None:
    properties = tmp_path / "client.properties"
    properties.write_text("# librdkafka settings\n"
                          "socket.timeout.ms = 12345\n"
                          "log_level: 3\n"
                          "ssl.ca.location=/from/file.pem\n", encoding="utf-8")
    settings = KafkaSettings(config_file=properties, config={"SSL_CA_LOCATION": "/from/env.pem"})
    config = KafkaClients(settings).consumer_config("g")
    assert config["socket.timeout.ms"] == "12345"
    assert config["log_level"] == "3"  # a name with an underscore, taken verbatim from the file
    assert config["ssl.ca.location"] == "/from/env.pem"


@pytest.mark.parametrize("variable", ["ISOLATION_LEVEL", "ENABLE_AUTO_COMMIT", "TRANSACTIONAL_ID", "GROUP_ID"])
def test_the_passthrough_may_not_weaken_exactly_once(variable: str) -> None:
    with pytest.raises(ConfigurationError, match=property_name(variable)):
        KafkaClients(KafkaSettings(config={variable: "x"}))


def test_an_unreadable_properties_file_fails_at_start_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="missing.properties"):
        KafkaClients(KafkaSettings(config_file=tmp_path / "missing.properties"))


def test_the_callers_own_settings_stay_when_no_passthrough_is_set() -> None:
    clients = KafkaClients(KafkaSettings(bootstrap_servers="b:1"))
    consumer = clients.consumer_config("group-a", **{"fetch.wait.max.ms": 10})
    assert consumer["group.id"] == "group-a" and consumer["isolation.level"] == "read_committed"
    assert consumer["enable.auto.commit"] is False and consumer["fetch.wait.max.ms"] == 10
    assert clients.passthrough == {}


@pytest.mark.broker
def test_clients_built_with_a_passthrough_property_work_against_the_broker(
        kafka_bootstrap: str, unique_name: Callable[[str], str]) -> None:
    client_id = f"pf-passthrough-{uuid.uuid4().hex[:8]}"
    clients = KafkaClients(KafkaSettings(bootstrap_servers=kafka_bootstrap,
                                         config={"CLIENT_ID": client_id, "COMPRESSION_TYPE": "gzip"}))
    topic, group = unique_name("topic"), unique_name("group")
    create_topic(clients, topic, partitions=1)
    producer = clients.producer()
    producer.produce(topic, key=b"k", value=b"through the passthrough")
    assert producer.flush(30) == 0
    assert [m.value() for m in read_to_end(clients, topic)] == [b"through the passthrough"]

    consumer = clients.consumer(group)
    try:
        consumer.subscribe([topic])
        for _ in range(100):
            if consumer.consume(1, 0.2) and consumer.assignment():
                break
        consumer.commit(offsets=[TopicPartition(topic, 0, 1)], asynchronous=False)
        admin = clients.admin()  # kept: a future outlives no admin client
        description = admin.describe_consumer_groups([group], request_timeout=10)[group].result(timeout=30)
        assert [member.client_id for member in description.members] == [client_id]
    finally:
        consumer.close()
