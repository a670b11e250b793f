from rest_framework import serializers

from kafkaml.topics.namespace import topic_prefix

from .models import STRATEGIES, FederatedSettings

RESTRICTION_KEYS = ("data_shape", "labels", "min_labels", "framework")
FRAMEWORKS = ("tensorflow", "pytorch")


class FederatedSettingsSerializer(serializers.ModelSerializer):
    rounds = serializers.IntegerField(min_value=1, max_value=1000, default=5)
    min_data = serializers.IntegerField(min_value=0, default=0)
    expected_sites = serializers.IntegerField(
        min_value=1, max_value=1000, required=False, allow_null=True
    )
    round_timeout_s = serializers.FloatField(min_value=1, max_value=24 * 3600, default=120.0)
    join_timeout_s = serializers.FloatField(min_value=1, max_value=7 * 24 * 3600, default=600.0)
    topics = serializers.SerializerMethodField()

    class Meta:
        model = FederatedSettings
        fields = (
            "deployment",
            "rounds",
            "min_data",
            "strategy",
            "strategy_params",
            "restrictions",
            "expected_sites",
            "round_timeout_s",
            "join_timeout_s",
            "topics",
            "created",
            "updated",
        )
        read_only_fields = ("deployment", "topics", "created", "updated")

    def get_topics(self, obj) -> dict[str, str]:
        base = f"{topic_prefix(obj.deployment.owner)}fed-{obj.deployment_id}"
        return {"global": f"{base}-global", "updates": f"{base}-updates"}

    def validate_strategy_params(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("must be an object")
        for key, number in value.items():
            if isinstance(number, bool) or not isinstance(number, int | float):
                raise serializers.ValidationError(f"{key}: must be a number")
            if number < 0:
                raise serializers.ValidationError(f"{key}: must not be negative")
        return value

    def validate_restrictions(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("must be an object")
        unknown = set(value) - set(RESTRICTION_KEYS)
        if unknown:
            raise serializers.ValidationError(
                f"unknown restrictions {sorted(unknown)}; allowed {list(RESTRICTION_KEYS)}"
            )
        shape = value.get("data_shape")
        if shape is not None and (
            not isinstance(shape, list)
            or not shape
            or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape)
        ):
            raise serializers.ValidationError("data_shape: a list of positive whole numbers")
        labels = value.get("labels")
        if labels is not None and (
            not isinstance(labels, list)
            or not labels
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in labels)
        ):
            raise serializers.ValidationError("labels: a non-empty list of whole numbers")
        min_labels = value.get("min_labels")
        if min_labels is not None and (
            not isinstance(min_labels, int) or isinstance(min_labels, bool) or min_labels < 1
        ):
            raise serializers.ValidationError("min_labels: a whole number >= 1")
        framework = value.get("framework")
        if framework is not None and framework not in FRAMEWORKS:
            raise serializers.ValidationError(f"framework: one of {list(FRAMEWORKS)}")
        return value

    def validate(self, attrs):
        strategy = attrs.get("strategy", getattr(self.instance, "strategy", "fedavg"))
        params = attrs.get("strategy_params", getattr(self.instance, "strategy_params", {}))
        allowed = STRATEGIES[strategy]
        unknown = set(params) - set(allowed)
        if unknown:
            raise serializers.ValidationError(
                {
                    "strategy_params": f"{strategy} takes {list(allowed) or 'no parameters'}, not {sorted(unknown)}"
                }
            )
        for beta in ("beta_1", "beta_2"):
            if beta in params and not params[beta] < 1:
                raise serializers.ValidationError({"strategy_params": f"{beta} must be below 1"})
        return attrs
