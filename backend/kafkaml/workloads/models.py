from django.conf import settings
from django.db import models


class Heartbeat(models.Model):
    """The last sign of life of a platform component (Celery worker, control logger)."""

    component = models.CharField(max_length=50, unique=True)
    last_seen = models.DateTimeField()
    detail = models.JSONField(default=dict, blank=True)


class CredentialKind(models.TextChoices):
    TRAINING = "training"
    INFERENCE = "inference"
    CONTROL_LOGGER = "control_logger"
    # a federated site worker: reads its result's job and its deployment's datasources, never
    # reports to the result (the coordinator, a TRAINING workload, does)
    FEDERATED_SITE = "federated_site"


class WorkloadCredential(models.Model):
    """The key one workload (or the control logger) uses on ``/api/v1/worker/``.

    Only the SHA-256 of the key is kept: keys are 256 random bits, so a fast hash is enough
    (nothing to brute-force) and a leaked database gives no usable key. ``subject_id`` is what
    the credential may touch: the leading result of a training workload (its chain follows),
    or the inference of an inference workload; the apps' selectors read it (``credentials.py``).
    """

    kind = models.CharField(max_length=20, choices=CredentialKind.choices)
    key_hash = models.CharField(max_length=64, unique=True)
    workload_name = models.CharField(max_length=100)
    subject_id = models.BigIntegerField(null=True, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["workload_name", "revoked_at"])]

    def __str__(self) -> str:
        return f"{self.kind} credential of {self.workload_name}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
