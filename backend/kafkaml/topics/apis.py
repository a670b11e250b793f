"""A person's Kafka access: how to connect, and their own SCRAM credentials (shown once)."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from kafkaml.accounts.permissions import IsUser

from . import principals
from .serializers import KafkaAccessOutput, KafkaCredentialsOutput


class KafkaCredentialsThrottle(UserRateThrottle):
    scope = "kafka_credentials"


class KafkaAccessApi(APIView):
    """How to reach Kafka as yourself: the servers, your topic prefix, your principal."""

    permission_classes = [IsUser]

    @extend_schema(responses=KafkaAccessOutput)
    def get(self, request):
        return Response(KafkaAccessOutput(principals.kafka_access(request.user)).data)


class KafkaCredentialsApi(APIView):
    """New Kafka credentials for yourself; the password is shown once and any earlier one
    stops working. 409 on a broker without authentication, 503 when Kafka refuses."""

    permission_classes = [IsUser]
    throttle_classes = [KafkaCredentialsThrottle]

    @extend_schema(
        request=None,
        responses={
            201: KafkaCredentialsOutput,
            409: OpenApiResponse(description="This Kafka has no authentication."),
            503: OpenApiResponse(description="Kafka refused to provision credentials."),
        },
    )
    def post(self, request):
        issued = principals.user_credentials_rotate(request.user)
        body = {
            "username": issued.username,
            "password": issued.password,
            "security_protocol": principals.security_protocol(),
            "sasl_mechanism": principals.scram_mechanism(),
            "bootstrap_servers": principals.public_bootstrap_servers(),
            "rotated_at": issued.rotated_at,
        }
        response = Response(KafkaCredentialsOutput(body).data, status=status.HTTP_201_CREATED)
        response["Cache-Control"] = "no-store"
        return response
