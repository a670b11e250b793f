from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from kafkaml.accounts.permissions import IsWorker

from .services import heartbeat_record


class HeartbeatInput(serializers.Serializer):
    component = serializers.ChoiceField(choices=["control_logger"])
    detail = serializers.JSONField(required=False, default=dict)


class WorkerHeartbeatApi(APIView):
    permission_classes = [IsWorker]

    @extend_schema(request=HeartbeatInput, responses={204: None})
    def post(self, request):
        data = HeartbeatInput(data=request.data)
        data.is_valid(raise_exception=True)
        heartbeat_record(data.validated_data["component"], data.validated_data["detail"])
        return Response(status=status.HTTP_204_NO_CONTENT)
