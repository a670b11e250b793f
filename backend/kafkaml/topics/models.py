"""The Kafka principals the platform made (``kafkaml.topics.principals``). Passwords are never
stored: Kafka keeps only its salted SCRAM verifier, and the user sees theirs once."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class PrincipalKind(models.TextChoices):
    USER = "user"
    WORKLOAD = "workload"


class KafkaPrincipal(models.Model):
    """A SCRAM user with ACLs on the cluster: a person's (``user.alice``) or a workload's
    (``workload.inference-7``, owned by the user whose workload it is)."""

    kind = models.CharField(max_length=16, choices=PrincipalKind.choices)
    kafka_username = models.CharField(max_length=255, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="kafka_principals"
    )
    workload_name = models.CharField(max_length=255, blank=True, default="")
    rotated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(kind="user"),
                name="topics_one_user_principal_per_user",
            )
        ]

    def __str__(self) -> str:
        return self.kafka_username
