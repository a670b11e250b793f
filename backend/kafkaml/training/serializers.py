from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from kafkaml.catalog.models import Configuration
from kafkaml.catalog.serializers import OwnedPrimaryKeyField

from .models import ControlError, Datasource, Deployment, ModelArtifact, TrainingResult
from .services import RERUN_FIELDS


@extend_schema_field({"oneOf": [{"type": "object"}, {"type": "string"}]})
class KwargsField(serializers.Field):
    """A JSON object, or the text ``epochs=5, shuffle=True`` (parsed later, literals only)."""

    def to_internal_value(self, data):
        if isinstance(data, dict | str):
            return data
        raise serializers.ValidationError("Give a JSON object or text like `epochs=5`.")

    def to_representation(self, value):
        return value


MAX_STREAM_TIMEOUT = 86400  # seconds: a larger value is a millisecond count


class DeploymentInput(serializers.Serializer):
    configuration = OwnedPrimaryKeyField(queryset=Configuration.objects.all())
    batch_size = serializers.IntegerField(min_value=1, max_value=1_000_000, default=32)
    training_kwargs = KwargsField(required=False, default=dict)
    evaluation_kwargs = KwargsField(required=False, default=dict)
    confusion_matrix = serializers.BooleanField(default=False)
    # Only for models training compiles (see compile_settings.py): left out, a Keras model
    # that needs them gets adam / 0.001 / sparse_categorical_crossentropy / accuracy.
    optimizer = serializers.CharField(max_length=50, required=False)
    learning_rate = serializers.FloatField(min_value=0, max_value=10, required=False)
    loss = serializers.CharField(max_length=100, required=False)
    metrics = serializers.CharField(max_length=200, required=False, allow_blank=True)
    incremental = serializers.BooleanField(default=False)
    stream_timeout = serializers.IntegerField(
        min_value=1,
        default=60,
        help_text="Seconds (not milliseconds, as in the original Kafka-ML); at most 86400.",
    )
    monitored_metric = serializers.CharField(max_length=50, default="val_loss")
    improvement = serializers.FloatField(min_value=0, default=0.0)
    window_size = serializers.IntegerField(min_value=1, max_value=10_000_000, default=1000)
    incremental_mode = serializers.ChoiceField(
        choices=["indefinite", "time_limited"], default="indefinite"
    )
    change = serializers.ChoiceField(
        choices=["auto", "up", "down"],
        default="auto",
        help_text="Which way the monitored metric improves (auto: down for *loss*, else up).",
    )
    unsupervised_rounds = serializers.IntegerField(min_value=0, max_value=100, default=0)
    confidence_threshold = serializers.FloatField(min_value=0, max_value=1, default=0.9)

    def validate_stream_timeout(self, value):
        # Over a day, or a round thousand from 10000 up (the original's 60000 ms default):
        # a millisecond count, not seconds.
        if value > MAX_STREAM_TIMEOUT or (value >= 10_000 and value % 1000 == 0):
            raise serializers.ValidationError(
                f"stream_timeout is in seconds; {value} looks like milliseconds "
                f"(at most {MAX_STREAM_TIMEOUT} s)"
            )
        return value

    gpus = serializers.IntegerField(min_value=0, max_value=16, default=0)
    datasource = OwnedPrimaryKeyField(
        queryset=Datasource.objects.all(), required=False, allow_null=True, default=None
    )
    seed = serializers.IntegerField(
        min_value=0,
        max_value=2**31 - 1,
        required=False,
        allow_null=True,
        default=None,
        help_text="Shuffle seed; left out, the worker draws one and the result records it.",
    )

    def validate(self, attrs):
        from kafkaml.catalog.selectors import model_chain

        from .compile_settings import settings_not_applying

        models = [
            member
            for model in attrs["configuration"].models.all()
            for member in (model_chain(model) if model.distributed else [model])
        ]
        refused = settings_not_applying(attrs, models)
        if refused:
            raise serializers.ValidationError({k: [v] for k, v in refused.items()})
        return attrs


class ResultBrief(serializers.ModelSerializer):
    model_name = serializers.CharField(source="model.name", read_only=True)

    class Meta:
        model = TrainingResult
        fields = ["id", "model", "model_name", "status", "chain_leader"]


class DeploymentOutput(serializers.ModelSerializer):
    results = ResultBrief(many=True, read_only=True)
    configuration_name = serializers.CharField(source="configuration.name", read_only=True)

    class Meta:
        model = Deployment
        fields = [
            "id",
            "configuration",
            "configuration_name",
            "batch_size",
            "training_kwargs",
            "evaluation_kwargs",
            "confusion_matrix",
            "optimizer",
            "learning_rate",
            "loss",
            "metrics",
            "incremental",
            "stream_timeout",
            "monitored_metric",
            "improvement",
            "window_size",
            "incremental_mode",
            "change",
            "unsupervised_rounds",
            "confidence_threshold",
            "gpus",
            "seed",
            "datasource",
            "results",
            "created_at",
        ]


class ArtifactOutput(serializers.ModelSerializer):
    class Meta:
        model = ModelArtifact
        fields = ["version", "metadata", "metrics", "created_at"]


class ResultOutput(serializers.ModelSerializer):
    model_name = serializers.CharField(source="model.name", read_only=True)
    framework = serializers.CharField(source="model.framework", read_only=True)
    artifacts = ArtifactOutput(many=True, read_only=True)
    planned_epochs = serializers.SerializerMethodField()
    model_version = serializers.IntegerField(
        source="model_version.number", read_only=True, allow_null=True, default=None
    )
    provenance = serializers.SerializerMethodField(
        help_text="What the result trained with: the model version's code, the datasource, "
        "the deployment's settings and the seed"
    )
    pseudo_labelling = serializers.SerializerMethodField(
        help_text="Semi-supervised rounds of the latest version, in order: the round, the "
        "samples pseudo-labelled in it and the accuracy after it (validation accuracy when "
        "there is a validation split); empty for an ordinary run"
    )
    federation = serializers.SerializerMethodField(
        help_text="A federated result's sites, from its latest version: the strategy, the "
        "rounds run, the sites that took part with the samples each announced, the sites "
        "refused with the reason, those that qualified after the join (late) and those "
        "dropped with the round they missed; null for an ordinary run"
    )

    class Meta:
        model = TrainingResult
        fields = [
            "id",
            "deployment",
            "planned_epochs",
            "model",
            "model_name",
            "framework",
            "chain_leader",
            "status",
            "status_history",
            "epoch_metrics",
            "train_metrics",
            "val_metrics",
            "test_metrics",
            "confusion_matrix",
            "training_time",
            "seed",
            "error",
            "log_tail",
            "artifacts",
            "model_version",
            "tags",
            "note",
            "provenance",
            "pseudo_labelling",
            "federation",
            "created_at",
            "updated_at",
        ]

    def get_pseudo_labelling(self, obj) -> list[dict]:
        latest = max(obj.artifacts.all(), key=lambda a: a.version, default=None)
        return pseudo_labelling_rounds((latest.metrics or {}) if latest else {})

    def get_federation(self, obj) -> dict | None:
        latest = max(obj.artifacts.all(), key=lambda a: a.version, default=None)
        return federation_summary((latest.metrics or {}) if latest else {})

    def get_planned_epochs(self, obj) -> int | None:
        return planned_epochs(obj.deployment)

    def get_provenance(self, obj) -> dict:
        from .selectors import result_datasource

        deployment = obj.deployment
        version = obj.model_version
        datasource = result_datasource(obj)
        return {
            "model_version": {
                "number": version.number,
                "framework": version.framework,
                "imports": version.imports,
                "code": version.code,
                "created_at": version.created_at.isoformat(),
            }
            if version
            else None,
            "datasource": DatasourceOutput(datasource).data if datasource else None,
            "settings": {name: getattr(deployment, name) for name in PROVENANCE_SETTINGS},
            "seed": obj.seed,
        }


def pseudo_labelling_rounds(summary: dict) -> list[dict]:
    """The worker's ``pseudo_labelling`` summary entries as the result shows them; anything
    malformed (the summary is the worker's free-form JSON) is left out."""
    rounds = summary.get("pseudo_labelling") if isinstance(summary, dict) else None
    shown = []
    for entry in rounds if isinstance(rounds, list) else []:
        if not isinstance(entry, dict):
            continue
        try:
            number, count = int(entry["round"]), int(entry["pseudo_labelled"])
        except (KeyError, TypeError, ValueError):
            continue
        metrics = entry.get("metrics") if isinstance(entry.get("metrics"), dict) else {}
        accuracy = metrics.get("val_accuracy", metrics.get("accuracy"))
        shown.append(
            {
                "round": number,
                "pseudo_labelled": count,
                "accuracy": float(accuracy) if isinstance(accuracy, int | float) else None,
                "metrics": {k: v for k, v in metrics.items() if isinstance(v, int | float)},
            }
        )
    return sorted(shown, key=lambda r: r["round"])


def federation_summary(summary: dict) -> dict | None:
    """The federated coordinator's ``federated`` summary (``model_training.federated.platform.
    federation_summary``) as the result shows it, or None; malformed entries are left out."""
    federated = summary.get("federated") if isinstance(summary, dict) else None
    if not isinstance(federated, dict):
        return None

    def mapping(key: str) -> dict:
        value = federated.get(key)
        return value if isinstance(value, dict) else {}

    def names(key: str) -> list[str]:
        value = federated.get(key)
        return [str(n) for n in value if isinstance(n, str)] if isinstance(value, list) else []

    samples = {str(k): v for k, v in mapping("samples").items() if isinstance(v, int) and v >= 0}
    dropped = sorted(
        ({"site": str(k), "round": v} for k, v in mapping("dropped").items() if isinstance(v, int)),
        key=lambda d: (d["round"], d["site"]),
    )
    rounds = federated.get("rounds")
    # per round (1-based, numbered by position), what each site trained on; 0: an online
    # site's skipped round. A round that is not a mapping, or a count that is not a
    # non-negative integer, is left out (the other rounds keep their numbers).
    per_round = federated.get("round_samples")
    round_samples = []
    for k, entry in enumerate(per_round if isinstance(per_round, list) else [], start=1):
        if not isinstance(entry, dict):
            continue
        counts = {
            str(site): n
            for site, n in entry.items()
            if isinstance(n, int) and not isinstance(n, bool) and n >= 0
        }
        if counts:
            round_samples.append({"round": k, "samples": counts})
    return {
        "strategy": str(federated.get("strategy") or ""),
        "rounds": rounds if isinstance(rounds, int) else None,
        "sites": [{"site": n, "samples": samples.get(n)} for n in names("sites")],
        "refused": [{"site": str(k), "reason": str(v)} for k, v in mapping("refused").items()],
        "late": [{"site": n, "samples": samples.get(n)} for n in names("late")],
        "dropped": dropped,
        "round_samples": round_samples,
    }


# Provenance shows every setting a re-run copies, and the seed.
PROVENANCE_SETTINGS = (*RERUN_FIELDS, "seed")


def planned_epochs(deployment) -> int | None:
    kwargs = deployment.training_kwargs or {}
    epochs = kwargs.get("epochs", kwargs.get("max_epochs"))
    return epochs if isinstance(epochs, int) else None


TAG_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,49}$"


class ResultAnnotateInput(serializers.Serializer):
    """PATCH /results/<id>/: the owner's tags and note; nothing else of a result is editable."""

    tags = serializers.ListField(
        child=serializers.RegexField(
            TAG_PATTERN,
            error_messages={"invalid": "Letters, digits and _ . : - only (at most 50)."},
        ),
        required=False,
        max_length=20,
    )
    note = serializers.CharField(required=False, allow_blank=True, max_length=5000)


class RunOutput(serializers.ModelSerializer):
    """One row of the runs table: a result's parameters and final metrics, flat."""

    model_name = serializers.CharField(read_only=True)
    framework = serializers.CharField(read_only=True)
    model_version = serializers.IntegerField(
        source="model_version.number", read_only=True, allow_null=True, default=None
    )
    batch_size = serializers.IntegerField(read_only=True)
    epochs = serializers.SerializerMethodField()
    epochs_reported = serializers.SerializerMethodField()
    test_accuracy = serializers.FloatField(read_only=True, allow_null=True)
    test_loss = serializers.FloatField(read_only=True, allow_null=True)
    val_accuracy = serializers.FloatField(read_only=True, allow_null=True)
    val_loss = serializers.FloatField(read_only=True, allow_null=True)
    optimizer = serializers.CharField(source="deployment.optimizer", read_only=True)
    learning_rate = serializers.FloatField(source="deployment.learning_rate", read_only=True)

    class Meta:
        model = TrainingResult
        fields = [
            "id",
            "deployment",
            "model",
            "model_name",
            "model_version",
            "framework",
            "chain_leader",
            "status",
            "tags",
            "note",
            "batch_size",
            "epochs",
            "epochs_reported",
            "optimizer",
            "learning_rate",
            "test_accuracy",
            "test_loss",
            "val_accuracy",
            "val_loss",
            "test_metrics",
            "training_time",
            "seed",
            "created_at",
        ]

    def get_epochs(self, obj) -> int | None:
        return planned_epochs(obj.deployment)

    def get_epochs_reported(self, obj) -> int:
        return len(obj.epoch_metrics or [])


class DatasourceOutput(serializers.ModelSerializer):
    class Meta:
        model = Datasource
        fields = [
            "id",
            "deployment",
            "deployment_key",
            "topic",
            "input_format",
            "input_config",
            "description",
            "validation_rate",
            "test_rate",
            "total_msg",
            "incremental",
            "unsupervised_topic",
            "dataset_restrictions",
            "created_at",
        ]


class ControlErrorOutput(serializers.ModelSerializer):
    class Meta:
        model = ControlError
        fields = [
            "id",
            "error",
            "control_topic",
            "control_partition",
            "control_offset",
            "created_at",
        ]


# --- worker endpoints --------------------------------------------------------------------


class WorkerStatusInput(serializers.Serializer):
    status = serializers.ChoiceField(choices=["deployed", "finished", "failed", "stopped"])
    error = serializers.CharField(required=False, allow_blank=True, default="")
    log_tail = serializers.CharField(required=False, allow_blank=True, default="")


class WorkerEpochInput(serializers.Serializer):
    epoch = serializers.IntegerField(min_value=0)
    metrics = serializers.DictField(child=serializers.FloatField(allow_null=True))


class WorkerArtifactInput(serializers.Serializer):
    archive = serializers.FileField()
    summary = serializers.JSONField(required=False, default=dict)


class WorkerDatasourceInput(serializers.Serializer):
    deployment_id = serializers.IntegerField(min_value=0)
    topic = serializers.CharField()
    input_format = serializers.ChoiceField(choices=["RAW", "AVRO", "JSON", "TELEGRAF_STR_JSON"])
    input_config = serializers.JSONField(required=False, default=dict)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    validation_rate = serializers.FloatField(min_value=0, max_value=1, default=0)
    test_rate = serializers.FloatField(min_value=0, max_value=1, default=0)
    total_msg = serializers.IntegerField(required=False, allow_null=True, default=None)
    incremental = serializers.BooleanField(default=False)
    unsupervised_topic = serializers.CharField(required=False, allow_null=True, default=None)
    dataset_restrictions = serializers.JSONField(required=False, allow_null=True, default=None)
    control_topic = serializers.CharField(max_length=255)
    control_partition = serializers.IntegerField(min_value=0)
    control_offset = serializers.IntegerField(min_value=0)


class WorkerControlErrorInput(serializers.Serializer):
    # The message's key, when it could be read: the error is shown to that deployment's owner.
    deployment_id = serializers.IntegerField(min_value=0, required=False, allow_null=True)
    control_topic = serializers.CharField(max_length=255)
    control_partition = serializers.IntegerField()
    control_offset = serializers.IntegerField()
    error = serializers.CharField()
    raw = serializers.CharField(required=False, allow_blank=True, default="")
