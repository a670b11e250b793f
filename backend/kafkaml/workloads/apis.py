from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from .auth import WorkerApiMixin
from .models import CredentialKind
from .services import heartbeat_record


class HeartbeatInput(serializers.Serializer):
    component = serializers.CharField(max_length=50, required=False)
    detail = serializers.JSONField(required=False, default=dict)


def heartbeat_component(credential) -> str:
    """The name a credential's heartbeats are recorded under: a component may only speak for
    itself (the control logger is ``control_logger``, a workload its workload name)."""
    if credential.kind == CredentialKind.CONTROL_LOGGER:
        return "control_logger"
    return credential.workload_name[:50]


class WorkerHeartbeatApi(WorkerApiMixin, APIView):
    workload_kinds = tuple(CredentialKind.values)

    @extend_schema(request=HeartbeatInput, responses={204: None})
    def post(self, request):
        data = HeartbeatInput(data=request.data)
        data.is_valid(raise_exception=True)
        component = heartbeat_component(request.auth)
        if data.validated_data.get("component", component) != component:
            raise PermissionDenied(f"This credential may only post the heartbeat of {component}.")
        heartbeat_record(component, data.validated_data["detail"])
        return Response(status=status.HTTP_204_NO_CONTENT)
