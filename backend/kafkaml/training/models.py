from django.conf import settings
from django.db import models
from django.utils import timezone

from kafkaml.catalog.models import Configuration, MLModel, ModelVersion


class Deployment(models.Model):
    """A configuration deployed for training: one TrainingResult per model."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    configuration = models.ForeignKey(
        Configuration, on_delete=models.PROTECT, related_name="deployments"
    )
    batch_size = models.PositiveIntegerField(default=32)
    training_kwargs = models.JSONField(default=dict, blank=True)
    evaluation_kwargs = models.JSONField(default=dict, blank=True)
    confusion_matrix = models.BooleanField(default=False)
    # Used to compile uncompiled Keras models and for distributed chains.
    optimizer = models.CharField(max_length=50, default="adam")
    learning_rate = models.FloatField(default=0.001)
    loss = models.CharField(max_length=100, default="sparse_categorical_crossentropy")
    metrics = models.CharField(max_length=200, default="accuracy")
    incremental = models.BooleanField(default=False)
    stream_timeout = models.PositiveIntegerField(default=60)  # seconds
    monitored_metric = models.CharField(max_length=50, default="val_loss")
    improvement = models.FloatField(default=0.0)
    window_size = models.PositiveIntegerField(default=1000)  # records per incremental window
    # "indefinite": until stopped; "time_limited": ends after stream_timeout s without data.
    incremental_mode = models.CharField(max_length=20, default="indefinite")
    change = models.CharField(max_length=10, default="auto")  # monitored metric: up|down|auto
    # Semi-supervised: pseudo-labelling rounds over the datasource's unsupervised topic.
    unsupervised_rounds = models.PositiveSmallIntegerField(default=0)
    confidence_threshold = models.FloatField(default=0.9)
    gpus = models.PositiveSmallIntegerField(default=0)
    # The shuffle seed the worker uses (None: it draws one and reports it on the result).
    seed = models.BigIntegerField(null=True, blank=True)
    datasource = models.ForeignKey(
        "Datasource", null=True, blank=True, on_delete=models.SET_NULL, related_name="retrainings"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]


class ResultStatus(models.TextChoices):
    CREATED = "created"
    DEPLOYED = "deployed"
    FINISHED = "finished"
    STOPPED = "stopped"
    FAILED = "failed"


FINAL_RESULT_STATUSES = {ResultStatus.FINISHED, ResultStatus.STOPPED, ResultStatus.FAILED}


class TrainingResult(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="results")
    model = models.ForeignKey(MLModel, on_delete=models.PROTECT, related_name="results")
    # The exact code it trained with (editing the model later adds a version, never changes it).
    model_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="results"
    )
    # Distributed chains train as one workload, led by the result of the chain's edge model.
    chain_leader = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="chain_members"
    )
    status = models.CharField(max_length=20, choices=ResultStatus.choices)
    status_history = models.JSONField(default=list, blank=True)
    epoch_metrics = models.JSONField(default=list, blank=True)
    train_metrics = models.JSONField(default=dict, blank=True)
    val_metrics = models.JSONField(default=dict, blank=True)
    test_metrics = models.JSONField(default=dict, blank=True)
    confusion_matrix = models.JSONField(null=True, blank=True)
    training_time = models.FloatField(null=True, blank=True)
    seed = models.BigIntegerField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    log_tail = models.TextField(blank=True, default="")
    workload_name = models.CharField(max_length=100, blank=True, default="")
    # The owner's own labels for the run (experiment tracking): short words, and a free note.
    tags = models.JSONField(default=list, blank=True)
    note = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_RESULT_STATUSES

    def record_status(self, status: str) -> None:
        self.status = status
        self.status_history = [
            *self.status_history,
            {"status": status, "at": timezone.now().isoformat()},
        ]


def artifact_path(instance, filename):
    return f"results/{instance.result_id}/v{instance.version}/{filename}"


class ModelArtifact(models.Model):
    """One trained version of a result: a tar.gz of native + ONNX + metadata.json."""

    result = models.ForeignKey(TrainingResult, on_delete=models.CASCADE, related_name="artifacts")
    version = models.PositiveIntegerField()
    archive = models.FileField(upload_to=artifact_path)
    metadata = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["result", "version"], name="unique_artifact_version")
        ]


class Datasource(models.Model):
    """A finished data stream, as announced by a control message (docs/protocol.md)."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.CASCADE, related_name="+"
    )
    deployment = models.ForeignKey(
        Deployment, null=True, blank=True, on_delete=models.SET_NULL, related_name="datasources"
    )
    deployment_key = models.BigIntegerField()  # the id the control message carried
    topic = models.TextField()
    input_format = models.CharField(max_length=20)
    input_config = models.JSONField(default=dict, blank=True)
    description = models.TextField(blank=True, default="")
    validation_rate = models.FloatField(default=0)
    test_rate = models.FloatField(default=0)
    total_msg = models.BigIntegerField(null=True, blank=True)
    incremental = models.BooleanField(default=False)
    unsupervised_topic = models.CharField(max_length=255, null=True, blank=True)
    dataset_restrictions = models.JSONField(null=True, blank=True)
    control_topic = models.CharField(max_length=255)
    control_partition = models.IntegerField()
    control_offset = models.BigIntegerField()
    # sha256 of everything the control message announced: the same announcement twice (a
    # redelivery, or a sink that re-sent it) is one datasource.
    fingerprint = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]


class ControlError(models.Model):
    """A control message the control logger could not register. Kept for operators, and shown
    to the owner of the deployment the message named (when it named one that exists)."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    deployment = models.ForeignKey(
        Deployment,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="control_errors",
    )
    control_topic = models.CharField(max_length=255)
    control_partition = models.IntegerField()
    control_offset = models.BigIntegerField()
    error = models.TextField()
    raw = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
