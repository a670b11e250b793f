"""librdkafka client settings, security included: the one builder every Kafka-ML client uses.

It lives in ``datasources`` (not ``worker_common``) because the sink library is installed alone
(``pip install ./datasources``) on users' machines and must reach a secured cluster too; the
platform's workers and backend build on it through ``worker_common.kafka``, so there is one set of
rules for ``security.protocol``, SASL and TLS.

Settings come from explicit arguments or, when none is given, from the environment:

=============================  ==========================  ================================
librdkafka                     argument                    environment variable
=============================  ==========================  ================================
``security.protocol``          ``security_protocol``       ``KAFKA_SECURITY_PROTOCOL``
``sasl.mechanism``             ``sasl_mechanism``          ``KAFKA_SASL_MECHANISM``
``sasl.username``              ``sasl_username``           ``KAFKA_SASL_USERNAME``
``sasl.password``              ``sasl_password``           ``KAFKA_SASL_PASSWORD`` (or ``_FILE``)
``ssl.ca.location``            ``ssl_ca_location``         ``KAFKA_SSL_CA_LOCATION``
``ssl.certificate.location``   ``ssl_certificate_location`` ``KAFKA_SSL_CERT_LOCATION``
``ssl.key.location``           ``ssl_key_location``        ``KAFKA_SSL_KEY_LOCATION``
``ssl.key.password``           ``ssl_key_password``        ``KAFKA_SSL_KEY_PASSWORD``
=============================  ==========================  ================================

Explicit settings replace the environment as a whole (never a mix of the two), so what a script
passes is exactly what is used.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
BOOTSTRAP_ENV = "KAFKA_BOOTSTRAP_SERVERS"
ENV = {
    "security_protocol": "KAFKA_SECURITY_PROTOCOL",
    "sasl_mechanism": "KAFKA_SASL_MECHANISM",
    "sasl_username": "KAFKA_SASL_USERNAME",
    "sasl_password": "KAFKA_SASL_PASSWORD",
    "ssl_ca_location": "KAFKA_SSL_CA_LOCATION",
    "ssl_certificate_location": "KAFKA_SSL_CERT_LOCATION",
    "ssl_key_location": "KAFKA_SSL_KEY_LOCATION",
    "ssl_key_password": "KAFKA_SSL_KEY_PASSWORD",
}
PASSWORD_FILE_ENV = "KAFKA_SASL_PASSWORD_FILE"
# Every producer the platform owns (sinks, inference outputs, dead letters, upper topics) writes
# with these: a record counts as delivered once all in-sync replicas have it (with the cluster's
# ``min.insync.replicas=2``, a broker may die without losing it), and librdkafka's retries after
# a leader change neither duplicate nor reorder records (idempotence: producer id + sequence).
DURABLE_PRODUCER_CONFIG: dict[str, Any] = {"acks": "all", "enable.idempotence": True}
# librdkafka key -> argument name (``sasl.mechanisms`` is librdkafka's older spelling).
LIBRDKAFKA_KEYS = {
    "security.protocol": "security_protocol",
    "sasl.mechanism": "sasl_mechanism",
    "sasl.mechanisms": "sasl_mechanism",
    "sasl.username": "sasl_username",
    "sasl.password": "sasl_password",
    "ssl.ca.location": "ssl_ca_location",
    "ssl.certificate.location": "ssl_certificate_location",
    "ssl.key.location": "ssl_key_location",
    "ssl.key.password": "ssl_key_password",
}
# The names kafka-python (the original Kafka-ML sinks' client) gives the same settings.
KAFKA_PYTHON_NAMES = {
    "security_protocol": "security_protocol",
    "sasl_mechanism": "sasl_mechanism",
    "sasl_plain_username": "sasl_username",
    "sasl_plain_password": "sasl_password",
    "ssl_cafile": "ssl_ca_location",
    "ssl_certfile": "ssl_certificate_location",
    "ssl_keyfile": "ssl_key_location",
    "ssl_password": "ssl_key_password",
}


class KafkaConfigError(ValueError):
    """Kafka client settings that cannot work (unknown protocol, SASL without a password...)."""


@dataclass(frozen=True)
class KafkaSecurity:
    """Validated security settings of a Kafka client."""

    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = None
    ssl_ca_location: str | None = None
    ssl_certificate_location: str | None = None
    ssl_key_location: str | None = None
    ssl_key_password: str | None = None

    def __repr__(self) -> str:  # never print a password
        shown = {
            f.name: ("***" if "password" in f.name else getattr(self, f.name))
            for f in fields(self)
            if getattr(self, f.name) is not None
        }
        return f"KafkaSecurity({', '.join(f'{k}={v!r}' for k, v in shown.items())})"

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol.endswith("SSL")

    def librdkafka(self) -> dict[str, str]:
        """The librdkafka settings (only what is set; PLAINTEXT gives ``security.protocol``)."""
        config = {"security.protocol": self.security_protocol}
        for key, name in LIBRDKAFKA_KEYS.items():
            value = getattr(self, name)
            if value is not None and key != "sasl.mechanisms":
                config[key] = value
        return config


def _clean(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def read_secret_file(path: str | os.PathLike, what: str = "password") -> str:
    """The first line of a secret file (Kubernetes Secrets are mounted as files)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise KafkaConfigError(f"cannot read the {what} file {path}: {exc.strerror}") from exc
    secret = text.splitlines()[0].strip() if text.strip() else ""
    if not secret:
        raise KafkaConfigError(f"the {what} file {path} is empty")
    return secret


def security_from_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The security arguments set in the environment (``KAFKA_SECURITY_PROTOCOL``...)."""
    env = os.environ if environ is None else environ
    found = {name: env[var] for name, var in ENV.items() if _clean(env.get(var))}
    if "sasl_password" not in found and _clean(env.get(PASSWORD_FILE_ENV)):
        found["sasl_password"] = read_secret_file(env[PASSWORD_FILE_ENV], "SASL password")
    return found


def kafka_security(
    *,
    environ: Mapping[str, str] | None = None,
    security_protocol: str | None = None,
    sasl_mechanism: str | None = None,
    sasl_username: str | None = None,
    sasl_password: str | None = None,
    ssl_ca_location: str | None = None,
    ssl_certificate_location: str | None = None,
    ssl_key_location: str | None = None,
    ssl_key_password: str | None = None,
) -> KafkaSecurity:
    """Validated security settings: the arguments given, or (none given) the environment."""
    given = {
        "security_protocol": security_protocol,
        "sasl_mechanism": sasl_mechanism,
        "sasl_username": sasl_username,
        "sasl_password": sasl_password,
        "ssl_ca_location": ssl_ca_location,
        "ssl_certificate_location": ssl_certificate_location,
        "ssl_key_location": ssl_key_location,
        "ssl_key_password": ssl_key_password,
    }
    values = {k: _clean(v) for k, v in given.items()}
    if not any(values.values()):
        values = {k: _clean(v) for k, v in security_from_env(environ).items()}
        source = "the environment (KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*, KAFKA_SSL_*)"
    else:
        source = "the settings given"
    return _validate(values, source)


def _validate(values: dict[str, str | None], source: str) -> KafkaSecurity:
    protocol = (values.get("security_protocol") or "PLAINTEXT").upper()
    if protocol not in PROTOCOLS:
        raise KafkaConfigError(
            f"unknown security.protocol {values.get('security_protocol')!r} in {source}: "
            f"choose {', '.join(PROTOCOLS)}"
        )
    mechanism = values.get("sasl_mechanism")
    username, password = values.get("sasl_username"), values.get("sasl_password")
    sasl = protocol.startswith("SASL_")
    if sasl:
        # kafka-python's default; librdkafka's (GSSAPI/Kerberos) is not supported here.
        mechanism = (mechanism or "PLAIN").upper()
        if mechanism not in MECHANISMS:
            raise KafkaConfigError(
                f"unknown sasl.mechanism {values.get('sasl_mechanism')!r} in {source}: "
                f"choose {', '.join(MECHANISMS)}"
            )
        missing = [n for n, v in (("username", username), ("password", password)) if not v]
        if missing:
            raise KafkaConfigError(
                f"security.protocol {protocol} needs a SASL {' and '.join(missing)} "
                "(KAFKA_SASL_USERNAME / KAFKA_SASL_PASSWORD, or sasl_plain_username / "
                "sasl_plain_password)"
            )
    elif mechanism or username or password:
        raise KafkaConfigError(
            f"SASL settings are given in {source} but security.protocol is {protocol}: "
            "use SASL_PLAINTEXT or SASL_SSL"
        )
    ssl_files = {
        "ssl.ca.location": values.get("ssl_ca_location"),
        "ssl.certificate.location": values.get("ssl_certificate_location"),
        "ssl.key.location": values.get("ssl_key_location"),
    }
    if not protocol.endswith("SSL") and (any(ssl_files.values()) or values.get("ssl_key_password")):
        raise KafkaConfigError(
            f"TLS settings are given in {source} but security.protocol is {protocol}: "
            "use SSL or SASL_SSL"
        )
    for key, path in ssl_files.items():
        if path and not Path(path).is_file():
            raise KafkaConfigError(f"{key}: no such file {path}")
    cert, key = ssl_files["ssl.certificate.location"], ssl_files["ssl.key.location"]
    if bool(cert) != bool(key):
        raise KafkaConfigError(
            "a TLS client certificate needs both ssl.certificate.location and ssl.key.location"
        )
    if values.get("ssl_key_password") and not key:
        raise KafkaConfigError("ssl.key.password is given without ssl.key.location")
    return KafkaSecurity(
        security_protocol=protocol,
        sasl_mechanism=mechanism if sasl else None,
        sasl_username=username,
        sasl_password=password,
        ssl_ca_location=ssl_files["ssl.ca.location"],
        ssl_certificate_location=cert,
        ssl_key_location=key,
        ssl_key_password=values.get("ssl_key_password"),
    )


def security_config(
    *, environ: Mapping[str, str] | None = None, **security: str | None
) -> dict[str, str]:
    """The librdkafka security settings (see :func:`kafka_security` for the arguments)."""
    return kafka_security(environ=environ, **security).librdkafka()


def from_kafka_python(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """kafka-python's names (``sasl_plain_username``, ``ssl_cafile``...) -> this module's."""
    return {KAFKA_PYTHON_NAMES[k]: v for k, v in kwargs.items() if k in KAFKA_PYTHON_NAMES}


def client_config(
    bootstrap_servers: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    **security: str | None,
) -> dict[str, Any]:
    """A complete librdkafka config: bootstrap servers, security, then ``overrides``.

    Security keys inside ``overrides`` (``security.protocol``, ``sasl.username``...) count as
    explicit settings and are validated like the keyword arguments. The bootstrap servers come
    from the argument, ``overrides['bootstrap.servers']`` or ``$KAFKA_BOOTSTRAP_SERVERS``.
    """
    env = os.environ if environ is None else environ
    rest = dict(overrides or {})
    for key, name in LIBRDKAFKA_KEYS.items():
        if key in rest:
            value = rest.pop(key)
            if security.get(name) is None:
                security[name] = value
    servers = bootstrap_servers or rest.pop("bootstrap.servers", None) or env.get(BOOTSTRAP_ENV)
    rest.pop("bootstrap.servers", None)
    if not servers:
        raise KafkaConfigError(
            "Kafka bootstrap servers are required (or set the KAFKA_BOOTSTRAP_SERVERS variable)"
        )
    return {
        "bootstrap.servers": servers,
        **kafka_security(environ=env, **security).librdkafka(),
        **rest,
    }


__all__ = [
    "DURABLE_PRODUCER_CONFIG",
    "ENV",
    "MECHANISMS",
    "PROTOCOLS",
    "KafkaConfigError",
    "KafkaSecurity",
    "client_config",
    "from_kafka_python",
    "kafka_security",
    "read_secret_file",
    "security_config",
    "security_from_env",
]
