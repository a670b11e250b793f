from django.conf import settings
from django.db import models
from django.utils import timezone

from kafkaml.training.models import TrainingResult


class InferenceStatus(models.TextChoices):
    CREATED = "created"
    RUNNING = "running"
    STOPPED = "stopped"
    FAILED = "failed"


class Delivery(models.TextChoices):
    AT_LEAST_ONCE = "at_least_once"
    EXACTLY_ONCE = "exactly_once"


class Inference(models.Model):
    """A trained model serving an input topic with N replicas."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    result = models.ForeignKey(TrainingResult, on_delete=models.PROTECT, related_name="inferences")
    model_version = models.PositiveIntegerField()
    # The result whose model is served now (hot swap points it at another result).
    serving_result = models.ForeignKey(
        TrainingResult, on_delete=models.PROTECT, related_name="served_inferences"
    )
    replicas = models.PositiveSmallIntegerField(default=1)
    input_format = models.CharField(max_length=20)
    input_config = models.JSONField(default=dict, blank=True)
    input_topic = models.CharField(max_length=249)
    output_topic = models.CharField(max_length=249)
    upper_topic = models.CharField(max_length=249, blank=True, default="")
    # edge / fog / cloud on different clusters: "host:port,..." of the cluster each topic is
    # on; blank: the platform's cluster (docs/inference.md)
    input_bootstrap_servers = models.CharField(max_length=1000, blank=True, default="")
    output_bootstrap_servers = models.CharField(max_length=1000, blank=True, default="")
    upper_bootstrap_servers = models.CharField(max_length=1000, blank=True, default="")
    gpus = models.PositiveSmallIntegerField(default=0)  # per replica
    limit = models.FloatField(null=True, blank=True)
    batch_size = models.PositiveIntegerField(default=256)
    max_wait_ms = models.PositiveIntegerField(default=20)
    # Swap to each newer version the serving result publishes (incremental training).
    follow_latest = models.BooleanField(default=False)
    runtime = models.CharField(max_length=20, default="onnx")
    # exactly_once: Kafka transactions (outputs read with isolation.level=read_committed)
    delivery = models.CharField(
        max_length=20, choices=Delivery.choices, default=Delivery.AT_LEAST_ONCE
    )
    # runtime "external": the model server the worker sends each micro-batch to
    # ({url, protocol: v2|tfserving, model_name, model_version, timeout_ms, retries, concurrency})
    external = models.JSONField(default=dict, blank=True)
    # shadow / canary: a second model version on the same input (docs/inference.md)
    candidate_result = models.ForeignKey(
        TrainingResult,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="candidate_inferences",
    )
    candidate_version = models.PositiveIntegerField(null=True, blank=True)
    candidate_mode = models.CharField(max_length=10, blank=True, default="")  # shadow | canary
    canary_share = models.FloatField(default=0.0)
    shadow_topic = models.CharField(max_length=249, blank=True, default="")
    status = models.CharField(max_length=20, choices=InferenceStatus.choices)
    status_history = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True, default="")
    workload_name = models.CharField(max_length=100, blank=True, default="")
    metrics = models.JSONField(default=dict, blank=True)  # latest report per replica
    swap_history = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def record_status(self, status: str) -> None:
        self.status = status
        self.status_history = [
            *self.status_history,
            {"status": status, "at": timezone.now().isoformat()},
        ]


class InferenceMetricsPoint(models.Model):
    """One point of an inference's serving history: the totals over its fresh replicas when a
    replica reported. Bounded: only the newest ``METRICS_HISTORY_POINTS`` are kept."""

    inference = models.ForeignKey(Inference, on_delete=models.CASCADE, related_name="history")
    at = models.DateTimeField(default=timezone.now)
    records_in_per_s = models.FloatField(default=0)
    records_out_per_s = models.FloatField(default=0)
    latency_p50_ms = models.FloatField(default=0)
    latency_p99_ms = models.FloatField(default=0)
    lag = models.FloatField(default=0)
    errors = models.FloatField(default=0)
    replicas_reporting = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["inference", "id"], name="inference_history_idx")]
