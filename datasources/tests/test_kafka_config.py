"""The one Kafka client settings builder: validation, environment, kafka-python names."""

from __future__ import annotations

import pytest

from datasources.kafka_config import (
    KafkaConfigError,
    client_config,
    from_kafka_python,
    kafka_security,
    security_config,
    security_from_env,
)

SASL_ENV = {
    "KAFKA_SECURITY_PROTOCOL": "sasl_ssl",
    "KAFKA_SASL_MECHANISM": "scram-sha-512",
    "KAFKA_SASL_USERNAME": "alice",
    "KAFKA_SASL_PASSWORD": "s3cret",
}


def test_default_is_plaintext():
    assert security_config(environ={}) == {"security.protocol": "PLAINTEXT"}


def test_reads_the_environment():
    assert security_config(environ=SASL_ENV) == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "alice",
        "sasl.password": "s3cret",
    }


def test_password_file_from_the_environment(tmp_path):
    secret = tmp_path / "password"
    secret.write_text("from-file\n")
    env = {**SASL_ENV, "KAFKA_SASL_PASSWORD": "", "KAFKA_SASL_PASSWORD_FILE": str(secret)}
    assert security_from_env(env)["sasl_password"] == "from-file"
    env["KAFKA_SASL_PASSWORD_FILE"] = str(tmp_path / "missing")
    with pytest.raises(KafkaConfigError, match="cannot read"):
        security_from_env(env)


def test_explicit_settings_replace_the_environment_as_a_whole():
    config = security_config(environ=SASL_ENV, security_protocol="PLAINTEXT")
    assert config == {"security.protocol": "PLAINTEXT"}


def test_tls_files(tmp_path):
    ca, cert, key = (tmp_path / n for n in ("ca.pem", "cert.pem", "key.pem"))
    for path in (ca, cert, key):
        path.write_text("-----BEGIN-----\n")
    env = {
        "KAFKA_SECURITY_PROTOCOL": "SSL",
        "KAFKA_SSL_CA_LOCATION": str(ca),
        "KAFKA_SSL_CERT_LOCATION": str(cert),
        "KAFKA_SSL_KEY_LOCATION": str(key),
        "KAFKA_SSL_KEY_PASSWORD": "kp",
    }
    assert security_config(environ=env) == {
        "security.protocol": "SSL",
        "ssl.ca.location": str(ca),
        "ssl.certificate.location": str(cert),
        "ssl.key.location": str(key),
        "ssl.key.password": "kp",
    }
    with pytest.raises(KafkaConfigError, match="no such file"):
        security_config(security_protocol="SSL", ssl_ca_location=str(tmp_path / "nope"))
    with pytest.raises(KafkaConfigError, match="both"):
        security_config(security_protocol="SSL", ssl_certificate_location=str(cert))
    with pytest.raises(KafkaConfigError, match="without ssl.key.location"):
        security_config(security_protocol="SSL", ssl_key_password="x")


@pytest.mark.parametrize(
    "settings,message",
    [
        ({"security_protocol": "TLS"}, "unknown security.protocol 'TLS'"),
        ({"security_protocol": "SASL_SSL", "sasl_mechanism": "GSSAPI"}, "unknown sasl.mechanism"),
        ({"security_protocol": "SASL_PLAINTEXT"}, "needs a SASL username and password"),
        (
            {"security_protocol": "SASL_PLAINTEXT", "sasl_username": "a"},
            "needs a SASL password",
        ),
        ({"sasl_username": "a", "sasl_password": "b"}, "security.protocol is PLAINTEXT"),
        (
            {
                "security_protocol": "SASL_PLAINTEXT",
                "sasl_username": "a",
                "sasl_password": "b",
                "ssl_ca_location": "/x",
            },
            "TLS settings",
        ),
    ],
)
def test_clear_errors(settings, message):
    with pytest.raises(KafkaConfigError, match=message):
        kafka_security(environ={}, **settings)


def test_environment_errors_name_the_environment():
    with pytest.raises(KafkaConfigError, match="environment"):
        kafka_security(environ={"KAFKA_SECURITY_PROTOCOL": "SASL-SSL"})


def test_sasl_mechanism_defaults_to_plain_like_kafka_python():
    security = kafka_security(
        environ={}, security_protocol="SASL_PLAINTEXT", sasl_username="u", sasl_password="pw42"
    )
    assert security.sasl_mechanism == "PLAIN"
    assert "pw42" not in repr(security) and "***" in repr(security)


def test_client_config_merges_overrides_and_validates_their_security_keys():
    config = client_config(
        "k:9092",
        {"linger.ms": 5, "security.protocol": "SASL_SSL", "sasl.mechanisms": "PLAIN"},
        environ={},
        sasl_username="u",
        sasl_password="p",
    )
    assert config == {
        "bootstrap.servers": "k:9092",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "PLAIN",
        "sasl.username": "u",
        "sasl.password": "p",
        "linger.ms": 5,
    }
    with pytest.raises(KafkaConfigError, match="needs a SASL"):
        client_config("k:9092", {"security.protocol": "SASL_SSL"}, environ=SASL_ENV)
    assert client_config(environ={"KAFKA_BOOTSTRAP_SERVERS": "b:1"})["bootstrap.servers"] == "b:1"
    with pytest.raises(KafkaConfigError, match="bootstrap"):
        client_config(environ={})


def test_kafka_python_names():
    assert from_kafka_python(
        {
            "sasl_plain_username": "u",
            "sasl_plain_password": "p",
            "ssl_cafile": "ca",
            "ssl_certfile": "c",
            "ssl_keyfile": "k",
            "ssl_password": "kp",
            "security_protocol": "SSL",
            "sasl_mechanism": "PLAIN",
            "acks": 1,
        }
    ) == {
        "sasl_username": "u",
        "sasl_password": "p",
        "ssl_ca_location": "ca",
        "ssl_certificate_location": "c",
        "ssl_key_location": "k",
        "ssl_key_password": "kp",
        "security_protocol": "SSL",
        "sasl_mechanism": "PLAIN",
    }


def test_sink_refuses_bad_security_before_connecting():
    from datasources import RawSink

    with pytest.raises(KafkaConfigError, match="needs a SASL password"):
        RawSink(
            "127.0.0.1:1",
            "t",
            1,
            security_protocol="SASL_PLAINTEXT",
            sasl_mechanism="SCRAM-SHA-512",
            sasl_plain_username="alice",
        )
