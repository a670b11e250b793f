from django.contrib.auth import authenticate, login, logout
from django.middleware.csrf import get_token
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from kafkaml.errors import ApplicationError

from .services import user_token_get_or_create


class KafkaInfo(serializers.Serializer):
    bootstrap_servers = serializers.CharField()
    control_topic = serializers.CharField()


class MeOutput(serializers.Serializer):
    authenticated = serializers.BooleanField(default=True)
    id = serializers.IntegerField()
    username = serializers.CharField()
    is_staff = serializers.BooleanField()
    kafka = serializers.SerializerMethodField()

    def get_kafka(self, obj) -> dict:
        """Where users send their data streams (for the snippets the UI shows)."""
        from django.conf import settings

        return {
            "bootstrap_servers": settings.KAFKAML_PUBLIC_BOOTSTRAP_SERVERS
            or settings.KAFKA_BOOTSTRAP_SERVERS,
            "control_topic": settings.KAFKAML_CONTROL_TOPIC,
        }


class CredentialsInput(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=256, style={"input_type": "password"})


def _check_credentials(request):
    data = CredentialsInput(data=request.data)
    data.is_valid(raise_exception=True)
    user = authenticate(request, **data.validated_data)
    if user is None:
        raise ApplicationError(
            "Wrong username or password.",
            errors={"password": ["Wrong username or password."]},
            status_code=status.HTTP_401_UNAUTHORIZED,
        )
    return user


class LoginApi(APIView):
    """Session login for the browser."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(request=CredentialsInput, responses=MeOutput)
    def post(self, request):
        user = _check_credentials(request)
        login(request, user)
        return Response(MeOutput(user).data)


class LogoutApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        logout(request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(APIView):
    """Who is logged in. Anonymous callers get ``{"authenticated": false}`` and nothing else,
    so the UI can ask without provoking an error."""

    permission_classes = [AllowAny]

    @extend_schema(responses=MeOutput)
    def get(self, request):
        if not request.user.is_authenticated:
            return Response({"authenticated": False})
        return Response(MeOutput(request.user).data)


class CsrfApi(APIView):
    """Sets the CSRF cookie the browser sends back on unsafe requests."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(responses=inline_serializer("Csrf", {"csrftoken": serializers.CharField()}))
    def get(self, request):
        return Response({"csrftoken": get_token(request)})


class TokenApi(APIView):
    """Token for scripts: ``Authorization: Token <key>``."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(
        request=CredentialsInput,
        responses=inline_serializer("TokenOutput", {"token": serializers.CharField()}),
    )
    def post(self, request):
        user = _check_credentials(request)
        return Response({"token": user_token_get_or_create(user=user)})
