"""``/api/v1/deployments/<id>/federated/``: a deployment's federated settings (GET: 204 when it has
none, PUT to set or change them, DELETE to make it an ordinary deployment again). Only the owner
sees them. A deployment still waiting for its data relaunches its workload on a change (409 once
it trains on registered data); ``POST /deployments/`` with ``federated`` creates both at once."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from kafkaml.accounts.permissions import IsUser
from kafkaml.training.models import Deployment

from .models import FederatedSettings
from .serializers import FederatedSettingsSerializer
from .services import (
    federated_deployment_create,
    federated_settings_delete,
    federated_settings_save,
)


def deployment_create_federated(request, fields: dict) -> Deployment:
    """``POST /deployments/`` with ``federated``: the deployment and its federated settings in
    one transaction (its coordinator starts with them); bad settings are 400 under
    ``federated``."""
    from rest_framework.exceptions import ValidationError

    settings = FederatedSettingsSerializer(data=request.data["federated"])
    if not settings.is_valid():
        raise ValidationError({"federated": settings.errors})
    return federated_deployment_create(
        owner=request.user, federated=settings.validated_data, **fields
    )


class DeploymentFederatedApi(APIView):
    permission_classes = [IsUser]

    def _deployment(self, request, pk: int) -> Deployment:
        return get_object_or_404(Deployment, pk=pk, owner=request.user)

    @extend_schema(responses={200: FederatedSettingsSerializer, 204: None})
    def get(self, request, pk: int):
        """204: an ordinary (not federated) deployment of the user's; another's is a 404."""
        deployment = self._deployment(request, pk)
        settings = FederatedSettings.objects.filter(deployment=deployment).first()
        if settings is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(FederatedSettingsSerializer(settings).data)

    @extend_schema(request=FederatedSettingsSerializer, responses=FederatedSettingsSerializer)
    def put(self, request, pk: int):
        deployment = self._deployment(request, pk)
        instance = FederatedSettings.objects.filter(deployment=deployment).first()
        serializer = FederatedSettingsSerializer(instance, data=request.data)
        serializer.is_valid(raise_exception=True)
        saved, created = federated_settings_save(
            deployment=deployment, fields=serializer.validated_data
        )
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(FederatedSettingsSerializer(saved).data, status=code)

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int):
        deployment = self._deployment(request, pk)
        federated_settings_delete(deployment=deployment)
        return Response(status=status.HTTP_204_NO_CONTENT)
