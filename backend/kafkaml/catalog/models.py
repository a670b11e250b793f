from django.conf import settings
from django.db import models
from django.db.models import DateTimeField, ManyToManyField


class Framework(models.TextChoices):
    TENSORFLOW = "tensorflow", "TensorFlow/Keras"
    PYTORCH = "pytorch", "PyTorch/Ignite"


class ValidationStatus(models.TextChoices):
    VALID = "valid"
    INVALID = "invalid"


class MLModel(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, default="")
    imports = models.TextField(blank=True, default="")
    code = models.TextField()
    framework = models.CharField(max_length=20, choices=Framework.choices)
    distributed = models.BooleanField(default=False)
    upper_model = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="lower_models"
    )
    validation_status = models.CharField(max_length=20, choices=ValidationStatus.choices)
    summary = models.JSONField(default=dict, blank=True)
    input_shape = models.JSONField(null=True, blank=True)
    output_shape = models.JSONField(null=True, blank=True)
    validation_error = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="unique_model_name_per_owner")
        ]

    def __str__(self) -> str:
        return self.name


class Configuration(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, default="")
    models = ManyToManyField(MLModel, related_name="configurations")
    created_at = DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.name


class ModelVersion(models.Model):
    """The code of a model as one training result used it. A version that a result points at
    never changes: editing such a model's code adds the next version (the model's id stays)."""

    model = models.ForeignKey(MLModel, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    imports = models.TextField(blank=True, default="")
    code = models.TextField()
    framework = models.CharField(max_length=20, choices=Framework.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["model", "number"], name="unique_model_version_number")
        ]

    def __str__(self) -> str:
        return f"{self.model_id} v{self.number}"
