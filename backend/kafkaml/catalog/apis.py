from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from kafkaml.accounts.permissions import IsUser
from kafkaml.api import OwnedQuerysetMixin

from . import services
from .models import Configuration, MLModel
from .selectors import model_versions
from .serializers import (
    ConfigurationInput,
    ConfigurationOutput,
    ModelInput,
    ModelOutput,
    ModelVersionOutput,
)


class ModelViewSet(
    OwnedQuerysetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Model code, validated by the executor on every save."""

    queryset = MLModel.objects.prefetch_related("configurations", "versions")
    serializer_class = ModelOutput
    permission_classes = [IsUser]
    search_fields = ["name", "description"]
    filterset_fields = ["framework", "distributed"]
    ordering_fields = ["id", "name", "created_at"]

    @extend_schema(request=ModelInput, responses={201: ModelOutput})
    def create(self, request):
        data = ModelInput(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        model = services.model_create(owner=request.user, **data.validated_data)
        return Response(ModelOutput(model).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ModelInput, responses=ModelOutput)
    def partial_update(self, request, pk=None):
        """Edit a model (PATCH: send only what changes); changed code is validated again."""
        model = self.get_object()
        data = ModelInput(data=request.data, partial=True, context={"request": request})
        data.is_valid(raise_exception=True)
        services.model_update(model=model, **data.validated_data)
        return Response(ModelOutput(self.get_object()).data)  # its versions read afresh

    def destroy(self, request, pk=None):
        services.model_delete(model=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=ModelVersionOutput(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def versions(self, request, pk=None):
        """The model's code versions, newest first (each result names the one it trained with)."""
        return Response(ModelVersionOutput(model_versions(self.get_object()), many=True).data)

    @extend_schema(request=None, responses=None)
    @action(detail=False, methods=["get"], pagination_class=None, filter_backends=[])
    def templates(self, request):
        """Ready-to-use model code for both frameworks."""
        from mlcode_executor.templates import TEMPLATES

        return Response(TEMPLATES)


class ConfigurationViewSet(
    OwnedQuerysetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    queryset = Configuration.objects.prefetch_related("models")
    serializer_class = ConfigurationOutput
    permission_classes = [IsUser]
    search_fields = ["name", "description"]
    ordering_fields = ["id", "name", "created_at"]

    @extend_schema(request=ConfigurationInput, responses={201: ConfigurationOutput})
    def create(self, request):
        data = ConfigurationInput(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        configuration = services.configuration_create(owner=request.user, **data.validated_data)
        return Response(ConfigurationOutput(configuration).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ConfigurationInput, responses=ConfigurationOutput)
    def partial_update(self, request, pk=None):
        configuration = self.get_object()
        data = ConfigurationInput(data=request.data, partial=True, context={"request": request})
        data.is_valid(raise_exception=True)
        configuration = services.configuration_update(
            configuration=configuration, **data.validated_data
        )
        return Response(ConfigurationOutput(configuration).data)

    def destroy(self, request, pk=None):
        services.configuration_delete(configuration=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
