"""Kafka principals and their ACLs, made by the platform on a secured Kafka.

When the platform's own Kafka client speaks ``SASL_*`` (``settings.KAFKA_SECURITY``), it
provisions, through the Admin API and as its own principal (a super user, or one holding ALTER
on the CLUSTER):

* one SCRAM user per person, ``user.<namespace>`` (``namespace.kafka_username``), allowed
  READ, WRITE, DESCRIBE and CREATE on the topics under their prefix (``alice.``), READ on the
  consumer groups under the same prefix, and WRITE and DESCRIBE on the control topic (to
  announce data; reading it would show everyone's announcements). Nothing else. Its password
  is made at random on request, shown once and never stored; a new one ends the old one.
* one SCRAM user per running workload, ``workload.<name>``, with a fresh password at each
  launch and ACLs for that workload only (:func:`inference_grants`, :func:`training_grants`),
  deleted with its ACLs when the workload's credential is revoked.

On the embedded broker (PLAINTEXT, no authentication) nothing is provisioned: that broker is
not a security boundary (:data:`UNSECURED_NOTICE`).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)
from django.conf import settings
from django.utils import timezone

from kafkaml.errors import ConflictError, ServiceUnavailableError
from worker_common.kafka import admin_config

from .models import KafkaPrincipal, PrincipalKind
from .namespace import is_in_namespace, kafka_username, topic_prefix, workload_kafka_username

log = logging.getLogger(__name__)

MIN_SCRAM_ITERATIONS = 4096  # Kafka's own floor
PASSWORD_BYTES = 32
ADMIN_TIMEOUT = 20.0  # seconds for one Admin API call
UNSECURED_NOTICE = (
    "This Kafka broker has no authentication and is not a security boundary: any client on "
    "the network can read and write every topic. Topic ownership is enforced by the API only."
)
NO_SCRAM_NOTICE = (
    "The platform does not issue Kafka credentials on this cluster (security protocol {}): "
    "ask its operator how clients authenticate. Topic ownership is enforced by the API only."
)
SECURED_NOTICE = (
    "Kafka checks who you are. With your credentials you may read, write and create topics "
    "starting with {prefix}, use consumer groups starting with {prefix}, and write (not read) "
    "the control topic {control}. The password is shown once; new credentials end the old ones."
)

_OPS = AclOperation
PREFIXED = ResourcePatternType.PREFIXED
LITERAL = ResourcePatternType.LITERAL
EXACTLY_ONCE = "exactly_once"  # kafkaml.inference.models.Delivery
READ_SIDE = (_OPS.READ, _OPS.DESCRIBE)
WRITE_SIDE = (_OPS.WRITE, _OPS.DESCRIBE)


class KafkaProvisioningError(ServiceUnavailableError):
    """The cluster refused (or did not answer) an Admin API call: a 503 naming Kafka's reason."""

    def __init__(self, reason: str):
        super().__init__(f"Kafka refused to provision credentials: {reason}")


# -- settings -------------------------------------------------------------------------------------
def security_protocol() -> str:
    return str(settings.KAFKA_SECURITY.get("security.protocol", "PLAINTEXT")).upper()


def provisioning_enabled() -> bool:
    """Principals are made when the platform's own client authenticates with SASL."""
    return security_protocol().startswith("SASL_")


def scram_mechanism() -> str:
    return settings.KAFKAML_KAFKA_SCRAM_MECHANISM.upper()


def public_bootstrap_servers() -> str:
    return settings.KAFKAML_PUBLIC_BOOTSTRAP_SERVERS or settings.KAFKA_BOOTSTRAP_SERVERS


def access_notice(user) -> str:
    if provisioning_enabled():
        return SECURED_NOTICE.format(
            prefix=topic_prefix(user), control=settings.KAFKAML_CONTROL_TOPIC
        )
    if security_protocol() == "PLAINTEXT":
        return UNSECURED_NOTICE
    return NO_SCRAM_NOTICE.format(security_protocol())


# -- ACLs -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Grant:
    """ALLOW ``operations`` on one resource pattern."""

    resource: ResourceType
    name: str
    pattern: ResourcePatternType
    operations: tuple[AclOperation, ...]


def _topic(name: str, ops, pattern=ResourcePatternType.LITERAL) -> Grant:
    return Grant(ResourceType.TOPIC, name, pattern, tuple(ops))


def _group(name: str, pattern=ResourcePatternType.LITERAL) -> Grant:
    return Grant(ResourceType.GROUP, name, pattern, (_OPS.READ,))


def user_grants(user) -> list[Grant]:
    """A person's: their namespace (topics and groups) and writing the control topic."""
    prefix = topic_prefix(user)
    return [
        _topic(prefix, (_OPS.READ, _OPS.WRITE, _OPS.DESCRIBE, _OPS.CREATE), PREFIXED),
        _group(prefix, PREFIXED),
        _topic(settings.KAFKAML_CONTROL_TOPIC, WRITE_SIDE),
    ]


def inference_grants(inference) -> list[Grant]:
    """An inference reads its input topic in its own consumer group and writes its output,
    upper and dead-letter topics, each named exactly (it may create them when missing); with
    exactly-once delivery, also its replicas' transactional ids. Only
    topics of its owner's namespace: one named otherwise (an inference made before topics were
    owned) gets no right, and the broker refuses it."""
    from model_inference.core import dlq_topic

    def owned(topics):
        return [t for t in topics if t and is_in_namespace(inference.owner, t)]

    reads = owned([inference.input_topic])
    writes = owned(
        [inference.output_topic, dlq_topic(inference.input_topic), inference.upper_topic]
    )
    # the group model_inference joins when run for a backend inference
    group = f"kafkaml-inference-{inference.pk}"
    from kafkaml.inference.updates import models_topic

    grants = [
        *[_topic(topic, (*READ_SIDE, _OPS.CREATE)) for topic in reads],
        _topic(models_topic(inference), READ_SIDE),  # models as data: its version descriptors
        *[_topic(topic, (*WRITE_SIDE, _OPS.CREATE)) for topic in writes],
        _group(group),
    ]
    if getattr(inference, "delivery", "") == EXACTLY_ONCE:
        # one transactional producer per replica: transactional.id "<group>.<replica>"
        grants.append(Grant(ResourceType.TRANSACTIONAL_ID, f"{group}.", PREFIXED, WRITE_SIDE))
    return grants


def training_grants(result) -> list[Grant]:
    """A training reads its data from a topic announced after it starts, so it may read (not
    write) every topic in its owner's namespace. Its consumers use assign(), never joining a
    group, but librdkafka still looks up the coordinator of the ``group.id`` they name
    (``kafkaml-training-reader``: DESCRIBE, nothing is committed there); incremental training
    commits its position under ``kafkaml-training-<result>`` (READ). No control topic: the
    worker waits for the datasource the backend registered."""
    return [
        _topic(topic_prefix(result.owner), READ_SIDE, PREFIXED),
        Grant(ResourceType.GROUP, "kafkaml-training-reader", LITERAL, (_OPS.DESCRIBE,)),
        _group(f"kafkaml-training-{result.pk}"),
    ]


def federated_grants(result) -> list[Grant]:
    """A federated coordinator or site of the result: a training's grants (it reads the
    site's announced ranges in the owner's namespace), and writing (creating) the
    deployment's two federated topics ``<prefix>fed-<deployment>-global``/``-updates``."""
    base = f"{topic_prefix(result.owner)}fed-{result.deployment_id}-"
    return [
        *training_grants(result),
        *[_topic(base + end, (*WRITE_SIDE, _OPS.CREATE)) for end in ("global", "updates")],
    ]


def acl_bindings(username: str, grants: Iterable[Grant]) -> set[AclBinding]:
    principal = f"User:{username}"
    return {
        AclBinding(g.resource, g.name, g.pattern, principal, "*", op, AclPermissionType.ALLOW)
        for g in grants
        for op in g.operations
    }


def _principal_filter(username: str) -> AclBindingFilter:
    return AclBindingFilter(
        ResourceType.ANY,
        None,
        ResourcePatternType.ANY,
        f"User:{username}",
        None,
        AclOperation.ANY,
        AclPermissionType.ANY,
    )


def _as_filter(binding: AclBinding) -> AclBindingFilter:
    return AclBindingFilter(
        binding.restype,
        binding.name,
        binding.resource_pattern_type,
        binding.principal,
        binding.host,
        binding.operation,
        binding.permission_type,
    )


# -- the Admin API --------------------------------------------------------------------------------
def _admin() -> AdminClient:
    try:
        config = admin_config(settings.KAFKA_BOOTSTRAP_SERVERS, **settings.KAFKA_SECURITY)
        return AdminClient(config)
    except (RuntimeError, ValueError, KafkaException) as exc:  # no servers, bad settings
        raise KafkaProvisioningError(_reason(exc)) from exc


def _scram() -> ScramMechanism:
    try:
        return ScramMechanism[scram_mechanism().replace("-", "_")]
    except KeyError:
        raise KafkaProvisioningError(
            f"KAFKAML_KAFKA_SCRAM_MECHANISM is {scram_mechanism()!r}: use SCRAM-SHA-256 or "
            "SCRAM-SHA-512"
        ) from None


def _kafka_error(exc: BaseException) -> KafkaError | None:
    if isinstance(exc, KafkaException) and exc.args and isinstance(exc.args[0], KafkaError):
        return exc.args[0]
    return None


def _reason(exc: BaseException) -> str:
    error = _kafka_error(exc)
    if error is not None:
        return f"{error.name()}: {error.str()}"
    return str(exc) or type(exc).__name__


def _wait(futures: Mapping, ignore: Iterable[int] = ()) -> list:
    """The results of an Admin API call; raises KafkaProvisioningError on the first failure
    whose code is not in ``ignore``."""
    results = []
    for future in futures.values() if isinstance(futures, Mapping) else futures:
        try:
            results.append(future.result(ADMIN_TIMEOUT))
        except Exception as exc:  # noqa: BLE001 - the client's error, named in the 503
            error = _kafka_error(exc)
            if error is not None and error.code() in set(ignore):
                continue
            raise KafkaProvisioningError(_reason(exc)) from exc
    return results


def _call(method, *args):
    try:
        return method(*args, request_timeout=ADMIN_TIMEOUT)
    except (KafkaException, ValueError, TypeError) as exc:
        raise KafkaProvisioningError(_reason(exc)) from exc


def _acls_sync(admin: AdminClient, username: str, grants: Iterable[Grant]) -> None:
    """Make the principal's ACLs exactly ``grants``: create what is missing, delete the rest."""
    wanted = acl_bindings(username, grants)
    [existing] = _wait([_call(admin.describe_acls, _principal_filter(username))])
    extra = set(existing) - wanted
    missing = wanted - set(existing)
    if missing:
        _wait(_call(admin.create_acls, sorted(missing)))
    if extra:
        _wait(_call(admin.delete_acls, [_as_filter(b) for b in sorted(extra)]))


def _scram_upsert(admin: AdminClient, username: str, password: str) -> None:
    mechanism = _scram()
    iterations = max(MIN_SCRAM_ITERATIONS, settings.KAFKAML_KAFKA_SCRAM_ITERATIONS)
    upsert = UserScramCredentialUpsertion(
        username, ScramCredentialInfo(mechanism, iterations), password.encode()
    )
    _wait(_call(admin.alter_user_scram_credentials, [upsert]))


def _principal_remove(admin: AdminClient, username: str) -> None:
    """Delete the principal's SCRAM credential and every ACL naming it (both may be gone)."""
    mechanism = _scram()
    deletion = UserScramCredentialDeletion(username, mechanism)
    _wait(
        _call(admin.alter_user_scram_credentials, [deletion]),
        ignore=[KafkaError.RESOURCE_NOT_FOUND],
    )
    _wait(_call(admin.delete_acls, [_principal_filter(username)]))


def _new_password() -> str:
    return secrets.token_urlsafe(PASSWORD_BYTES)


def _provision(username: str, grants: list[Grant]) -> str:
    """ACLs first, then a new password (the old one dies with the upsert). Returns it."""
    _scram()  # a setting that cannot work stops here, before the cluster is touched
    admin = _admin()
    _acls_sync(admin, username, grants)
    password = _new_password()
    _scram_upsert(admin, username, password)
    return password


# -- people ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class IssuedCredentials:
    username: str
    password: str
    rotated_at: object


def user_credentials_rotate(user) -> IssuedCredentials:
    """New Kafka credentials for ``user`` (the first, or replacing the old ones, which stop
    working). The password is returned once and kept nowhere."""
    if not provisioning_enabled():
        raise ConflictError(access_notice(user))
    username = kafka_username(user)
    password = _provision(username, user_grants(user))
    now = timezone.now()
    KafkaPrincipal.objects.update_or_create(
        kafka_username=username,
        defaults={"kind": PrincipalKind.USER, "user": user, "rotated_at": now},
    )
    return IssuedCredentials(username=username, password=password, rotated_at=now)


def user_principal(user) -> KafkaPrincipal | None:
    return KafkaPrincipal.objects.filter(user=user, kind=PrincipalKind.USER).first()


def user_principals_remove(user) -> int:
    """Delete every principal of ``user`` (theirs and their workloads') from Kafka, then the
    rows. Raises KafkaProvisioningError when the cluster refuses: no credential outlives its
    user silently."""
    rows = list(KafkaPrincipal.objects.filter(user=user))
    if not rows:
        return 0
    admin = _admin()
    for row in rows:
        _principal_remove(admin, row.kafka_username)
    KafkaPrincipal.objects.filter(pk__in=[r.pk for r in rows]).delete()
    return len(rows)


def kafka_access(user) -> dict:
    """What ``GET /api/v1/auth/kafka/`` shows ``user``: how to connect, and as whom."""
    secured = provisioning_enabled()
    row = user_principal(user) if secured else None
    return {
        "secured": secured,
        "bootstrap_servers": public_bootstrap_servers(),
        "security_protocol": security_protocol(),
        "sasl_mechanism": scram_mechanism() if secured else None,
        "username": kafka_username(user) if secured else None,
        "topic_prefix": topic_prefix(user),
        "group_prefix": topic_prefix(user),
        "control_topic": settings.KAFKAML_CONTROL_TOPIC,
        "has_credentials": row is not None,
        "rotated_at": row.rotated_at if row is not None else None,
        "notice": access_notice(user),
    }


# -- workloads ------------------------------------------------------------------------------------
def workload_principal_issue(*, workload_name: str, owner, grants: list[Grant]) -> dict[str, str]:
    """A new principal for a workload being launched: its ACLs and a fresh password. Returns
    the client settings for its environment (``KAFKA_SECURITY_PROTOCOL``, ``KAFKA_SASL_*`` and
    the platform's ``KAFKA_SSL_CA_LOCATION``), or ``{}`` when nothing is provisioned. The
    platform's own password never goes there."""
    if not provisioning_enabled():
        return {}
    username = workload_kafka_username(workload_name)
    password = _provision(username, grants)
    KafkaPrincipal.objects.update_or_create(
        kafka_username=username,
        defaults={
            "kind": PrincipalKind.WORKLOAD,
            "user": owner,
            "workload_name": workload_name,
            "rotated_at": timezone.now(),
        },
    )
    env = {
        "KAFKA_SECURITY_PROTOCOL": security_protocol(),
        "KAFKA_SASL_MECHANISM": scram_mechanism(),
        "KAFKA_SASL_USERNAME": username,
        "KAFKA_SASL_PASSWORD": password,
    }
    ca = settings.KAFKA_SECURITY.get("ssl.ca.location")
    if ca:
        env["KAFKA_SSL_CA_LOCATION"] = ca
    return env


def workload_principal_remove(workload_name: str) -> bool:
    """The workload's Kafka access ends: its SCRAM credential and ACLs are deleted. A failure
    is logged and the row kept, so :func:`workload_principals_sweep` tries again."""
    if not workload_name or not provisioning_enabled():
        return False
    row = KafkaPrincipal.objects.filter(
        kind=PrincipalKind.WORKLOAD, workload_name=workload_name
    ).first()
    if row is None:
        return False
    try:
        _principal_remove(_admin(), row.kafka_username)
    except KafkaProvisioningError as exc:
        log.error("could not delete the Kafka principal of %s: %s", workload_name, exc)
        return False
    KafkaPrincipal.objects.filter(pk=row.pk).delete()
    return True


def workload_principals_sweep() -> int:
    """Delete the principals of workloads whose API credentials are all revoked (whichever
    way they were: the reconciler's safety net). Returns how many went."""
    from kafkaml.workloads.models import WorkloadCredential

    if not provisioning_enabled():
        return 0
    live = set(
        WorkloadCredential.objects.filter(revoked_at=None).values_list("workload_name", flat=True)
    )
    ended = (
        KafkaPrincipal.objects.filter(kind=PrincipalKind.WORKLOAD)
        .exclude(workload_name__in=live)
        .values_list("workload_name", flat=True)
    )
    return sum(workload_principal_remove(name) for name in list(ended))


__all__ = [
    "Grant",
    "IssuedCredentials",
    "KafkaProvisioningError",
    "access_notice",
    "acl_bindings",
    "inference_grants",
    "kafka_access",
    "provisioning_enabled",
    "training_grants",
    "user_credentials_rotate",
    "user_grants",
    "user_principal",
    "user_principals_remove",
    "workload_principal_issue",
    "workload_principal_remove",
    "workload_principals_sweep",
]
