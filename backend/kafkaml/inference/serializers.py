import re

from rest_framework import serializers

from kafkaml.catalog.serializers import OwnedPrimaryKeyField
from kafkaml.training.models import TrainingResult

from .models import Delivery, Inference, InferenceMetricsPoint
from .selectors import inference_degraded, inference_metrics_summary


class ExternalInput(serializers.Serializer):
    """The model server of runtime 'external' (model_inference/runtimes/external.py)."""

    url = serializers.RegexField(
        r"^https?://[^\s/?#]+(/[^\s?#]*)?$", max_length=500, help_text="e.g. http://mlserver:8080"
    )
    protocol = serializers.ChoiceField(
        choices=["v2", "tfserving"],
        default="v2",
        help_text="v2: Open Inference Protocol REST (MLServer, KServe, Triton); tfserving: TF "
        "Serving REST predict",
    )
    model_name = serializers.RegexField(r"^[A-Za-z0-9_.-]{1,200}$")
    model_version = serializers.RegexField(
        r"^[A-Za-z0-9_.-]{1,100}$", required=False, allow_blank=True, default=""
    )
    timeout_ms = serializers.IntegerField(min_value=1, max_value=600_000, default=5000)
    retries = serializers.IntegerField(min_value=0, max_value=20, default=3)
    concurrency = serializers.IntegerField(min_value=1, max_value=64, default=4)
    max_batch = serializers.IntegerField(min_value=0, max_value=100_000, default=0)


_HOST_PORT = re.compile(
    r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252}[A-Za-z0-9])?):(\d{1,5})$"
)


def normalize_bootstrap_servers(value: str) -> str:
    """``host:port[,host:port...]`` (spaces allowed after commas) -> ``host:port,host:port``;
    blank stays blank (the platform's cluster). Raises ``ValidationError``."""
    text = (value or "").strip()
    if not text:
        return ""
    servers = []
    for item in text.split(","):
        item = item.strip()
        match = _HOST_PORT.match(item)
        if not match or not 0 < int(match.group(2)) < 65536:
            raise serializers.ValidationError(
                f"{item!r} is not host:port (e.g. edge-kafka:9092; several: a:9092,b:9092)."
            )
        servers.append(item)
    return ",".join(servers)


class BootstrapServersField(serializers.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 1000)
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("default", "")
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        return normalize_bootstrap_servers(super().to_internal_value(data))


class CandidateInput(serializers.Serializer):
    """Shadow or canary: a second model version on the inference's input topic."""

    result = OwnedPrimaryKeyField(queryset=TrainingResult.objects.all())
    version = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    mode = serializers.ChoiceField(choices=["shadow", "canary"])
    share = serializers.FloatField(
        min_value=0, max_value=1, default=0.0, help_text="canary: share of the keys it answers"
    )
    shadow_topic = serializers.CharField(
        max_length=249,
        required=False,
        allow_blank=True,
        default="",
        help_text="shadow: where its outputs go (default <output topic>.shadow)",
    )


class InferenceInput(serializers.Serializer):
    result = OwnedPrimaryKeyField(queryset=TrainingResult.objects.all())
    replicas = serializers.IntegerField(min_value=1, max_value=64, default=1)
    input_format = serializers.ChoiceField(choices=["RAW", "AVRO", "JSON", "TELEGRAF_STR_JSON"])
    input_config = serializers.JSONField(required=False, default=dict)
    input_topic = serializers.CharField(max_length=249)
    output_topic = serializers.CharField(max_length=249)
    upper_topic = serializers.CharField(
        max_length=249, required=False, allow_blank=True, default=""
    )
    limit = serializers.FloatField(min_value=0, max_value=1, required=False, allow_null=True)
    batch_size = serializers.IntegerField(min_value=1, max_value=100_000, default=256)
    max_wait_ms = serializers.IntegerField(min_value=0, max_value=60_000, default=20)
    follow_latest = serializers.BooleanField(
        default=False,
        help_text="Swap to each newer version the serving result publishes (incremental "
        "training), through the models-as-data topic: no restart, no lost records.",
    )
    runtime = serializers.ChoiceField(
        choices=["onnx", "keras", "pytorch", "external"],
        default="onnx",
        help_text="external: each micro-batch goes to the model server named in 'external'",
    )
    external = ExternalInput(required=False, allow_null=True, default=None)
    delivery = serializers.ChoiceField(
        choices=Delivery.choices,
        default=Delivery.AT_LEAST_ONCE,
        help_text="at_least_once (default) or exactly_once: Kafka transactions, the output read "
        "with isolation.level=read_committed; not on the embedded broker.",
    )
    input_bootstrap_servers = BootstrapServersField(
        help_text="the Kafka cluster of the input topic (host:port,...); blank: the platform's"
    )
    output_bootstrap_servers = BootstrapServersField(
        help_text="the Kafka cluster of the output topic; blank: the platform's"
    )
    upper_bootstrap_servers = BootstrapServersField(
        help_text="the Kafka cluster of the upper topic; blank: the output's"
    )
    gpus = serializers.IntegerField(
        min_value=0, max_value=16, default=0, help_text="GPUs per replica"
    )

    def validate_input_config(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("Give a JSON object.")
        return value

    def validate(self, attrs):
        if attrs.get("runtime") == "external":
            if not attrs.get("external"):
                raise serializers.ValidationError(
                    {"external": ["The external runtime needs the model server (url, ...)."]}
                )
        elif attrs.get("external"):
            raise serializers.ValidationError({"external": ["Only with runtime 'external'."]})
        attrs["external"] = dict(attrs.get("external") or {})
        return attrs


class ChainInput(serializers.Serializer):
    """Deploy a distributed chain for inference: what the edge reads, where every sub-model
    answers, and the early-exit limit (one for all, or ``limits`` edge first)."""

    result = OwnedPrimaryKeyField(
        queryset=TrainingResult.objects.all(), help_text="any result of the chain (its leader)"
    )
    replicas = serializers.IntegerField(min_value=1, max_value=64, default=1)
    input_format = serializers.ChoiceField(choices=["RAW", "AVRO", "JSON", "TELEGRAF_STR_JSON"])
    input_config = serializers.JSONField(required=False, default=dict)
    input_topic = serializers.CharField(max_length=249)
    output_topic = serializers.CharField(max_length=249)
    limit = serializers.FloatField(min_value=0, max_value=1, required=False, allow_null=True)
    limits = serializers.ListField(
        child=serializers.FloatField(min_value=0, max_value=1), required=False, allow_null=True
    )
    batch_size = serializers.IntegerField(min_value=1, max_value=100_000, default=256)
    max_wait_ms = serializers.IntegerField(min_value=0, max_value=60_000, default=20)
    runtime = serializers.ChoiceField(choices=["onnx", "keras", "pytorch"], default="onnx")
    delivery = serializers.ChoiceField(choices=Delivery.choices, default=Delivery.AT_LEAST_ONCE)

    def validate_input_config(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("Give a JSON object.")
        return value


class ScaleInput(serializers.Serializer):
    replicas = serializers.IntegerField(min_value=1, max_value=64)


class SwapInput(serializers.Serializer):
    result = OwnedPrimaryKeyField(queryset=TrainingResult.objects.all())
    version = serializers.IntegerField(min_value=1, required=False, allow_null=True)


class InferenceOutput(serializers.ModelSerializer):
    live = serializers.SerializerMethodField()
    degraded = serializers.SerializerMethodField(
        help_text="null, or why a running inference is not serving (e.g. its replicas cannot "
        "reach the Kafka cluster) and since when"
    )
    model_name = serializers.CharField(source="serving_result.model.name", read_only=True)
    replica_models = serializers.SerializerMethodField(
        help_text="models as data: per replica, the version it serves and the last update it "
        "applied or refused (docs/inference.md)"
    )
    candidate = serializers.SerializerMethodField(
        help_text="null, or the shadow/canary candidate and its live comparison with the "
        "primary (agreement, mean_abs_diff; canary: answered_share)"
    )

    class Meta:
        model = Inference
        fields = [
            "id",
            "result",
            "serving_result",
            "model_name",
            "model_version",
            "replicas",
            "input_format",
            "input_config",
            "input_topic",
            "output_topic",
            "upper_topic",
            "limit",
            "batch_size",
            "max_wait_ms",
            "follow_latest",
            "runtime",
            "delivery",
            "input_bootstrap_servers",
            "output_bootstrap_servers",
            "upper_bootstrap_servers",
            "gpus",
            "status",
            "status_history",
            "error",
            "swap_history",
            "live",
            "degraded",
            "replica_models",
            "external",
            "candidate",
            "created_at",
        ]

    def get_candidate(self, obj) -> dict | None:
        from .candidates import candidate_summary

        return candidate_summary(obj)

    def get_replica_models(self, obj) -> dict:
        return {
            replica: {
                "model_version": report.get("model_version"),
                "model_update": report.get("model_update"),
            }
            for replica, report in sorted((obj.metrics or {}).items())
        }

    def get_live(self, obj) -> dict:
        return inference_metrics_summary(obj)

    def get_degraded(self, obj) -> dict | None:
        return inference_degraded(obj)


class WorkerMetricsInput(serializers.Serializer):
    replica = serializers.CharField(max_length=200)
    records_in = serializers.FloatField(required=False, default=0)
    records_out = serializers.FloatField(required=False, default=0)
    records_in_per_s = serializers.FloatField(required=False, default=0)
    records_out_per_s = serializers.FloatField(required=False, default=0)
    errors = serializers.FloatField(required=False, default=0)
    batch_size_avg = serializers.FloatField(required=False, default=0)
    latency_ms = serializers.DictField(
        child=serializers.FloatField(allow_null=True), required=False, default=dict
    )
    lag = serializers.FloatField(required=False, allow_null=True, default=None)
    model_version = serializers.IntegerField(required=False, allow_null=True, default=None)
    # set while the replica has reached no Kafka broker for a while (the inference is degraded)
    cluster_unreachable_since = serializers.DateTimeField(
        required=False, allow_null=True, default=None
    )
    transactions = serializers.IntegerField(required=False, allow_null=True, default=None)
    aborted_transactions = serializers.IntegerField(required=False, allow_null=True, default=None)
    # models as data: the last version descriptor the replica applied or refused
    # ({result_id, version, sha256, status: applied|failed, error, at})
    model_update = serializers.DictField(required=False, allow_null=True, default=None)
    # shadow / canary: the candidate and its comparison with the primary (worker.py)
    candidate = serializers.DictField(required=False, allow_null=True, default=None)
    # runtime external: batches read again because the model server was unreachable
    unavailable_batches = serializers.IntegerField(required=False, allow_null=True, default=None)


class MetricsPointOutput(serializers.ModelSerializer):
    class Meta:
        model = InferenceMetricsPoint
        fields = [
            "at",
            "records_in_per_s",
            "records_out_per_s",
            "latency_p50_ms",
            "latency_p99_ms",
            "lag",
            "errors",
            "replicas_reporting",
        ]


# --- POST /inferences/<id>/predict (Open Inference Protocol "V2" JSON; inference/predict.py) --


class PredictTensorInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    shape = serializers.ListField(
        child=serializers.IntegerField(min_value=0), min_length=1, max_length=16
    )
    datatype = serializers.CharField(max_length=10, help_text="FP32, FP64, INT64, UINT8, ...")
    data = serializers.ListField(
        child=serializers.JSONField(), help_text="row-major values, flat or nested"
    )
    parameters = serializers.DictField(required=False)


class PredictInput(serializers.Serializer):
    id = serializers.CharField(max_length=200, required=False)
    inputs = serializers.ListField(child=PredictTensorInput(), min_length=1, max_length=16)
    parameters = serializers.DictField(required=False)


class PredictTensorOutput(serializers.Serializer):
    name = serializers.CharField()
    shape = serializers.ListField(child=serializers.IntegerField())
    datatype = serializers.CharField()
    data = serializers.ListField(child=serializers.FloatField(allow_null=True))


class PredictOutput(serializers.Serializer):
    id = serializers.CharField(required=False)
    model_name = serializers.CharField()
    model_version = serializers.CharField()
    outputs = PredictTensorOutput(many=True)
    parameters = serializers.DictField(required=False)
