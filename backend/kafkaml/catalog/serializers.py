from rest_framework import serializers

from .models import Configuration, MLModel, ModelVersion


class OwnedPrimaryKeyField(serializers.PrimaryKeyRelatedField):
    """A foreign key the requesting user must own; another user's id reads as unknown."""

    def get_queryset(self):
        request = self.context["request"]
        return super().get_queryset().filter(owner=request.user)

    def to_internal_value(self, data):
        # Only whole numbers reach the database (a string with a NUL byte would not even be
        # a valid PostgreSQL parameter).
        if isinstance(data, bool) or not str(data).isdigit():
            self.fail("incorrect_type", data_type=type(data).__name__)
        return super().to_internal_value(int(data))


class ModelInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    imports = serializers.CharField(required=False, allow_blank=True, default="", max_length=20000)
    code = serializers.CharField(max_length=100000)
    framework = serializers.ChoiceField(choices=MLModel._meta.get_field("framework").choices)
    distributed = serializers.BooleanField(required=False, default=False)
    upper_model = OwnedPrimaryKeyField(
        queryset=MLModel.objects.all(), required=False, allow_null=True, default=None
    )


class ModelOutput(serializers.ModelSerializer):
    configurations = serializers.SerializerMethodField()
    deletable = serializers.SerializerMethodField()
    delete_blockers = serializers.SerializerMethodField()
    version = serializers.SerializerMethodField(
        help_text="The number of the version holding the code now (editing the code of a model "
        "that has results adds a version; the id stays)"
    )

    class Meta:
        model = MLModel
        fields = [
            "id",
            "name",
            "description",
            "imports",
            "code",
            "framework",
            "distributed",
            "upper_model",
            "validation_status",
            "summary",
            "input_shape",
            "output_shape",
            "configurations",
            "deletable",
            "delete_blockers",
            "version",
            "created_at",
            "updated_at",
        ]

    def get_version(self, obj) -> int | None:
        numbers = [v.number for v in obj.versions.all()]
        return max(numbers) if numbers else None

    def get_configurations(self, obj) -> list[int]:
        return [c.pk for c in obj.configurations.all()]

    def get_delete_blockers(self, obj) -> list[str]:
        from .services import model_delete_blockers

        return model_delete_blockers(obj)

    def get_deletable(self, obj) -> bool:
        return not self.get_delete_blockers(obj)


class ModelVersionOutput(serializers.ModelSerializer):
    result_count = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = ModelVersion
        fields = ["number", "imports", "code", "framework", "result_count", "created_at"]


class ConfigurationInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    models = OwnedPrimaryKeyField(queryset=MLModel.objects.all(), many=True)


class ConfigurationOutput(serializers.ModelSerializer):
    deletable = serializers.SerializerMethodField()
    model_names = serializers.SerializerMethodField()

    class Meta:
        model = Configuration
        fields = ["id", "name", "description", "models", "model_names", "deletable", "created_at"]

    def get_deletable(self, obj) -> bool:
        return not obj.deployments.exists()

    def get_model_names(self, obj) -> list[str]:
        return [m.name for m in obj.models.all()]
