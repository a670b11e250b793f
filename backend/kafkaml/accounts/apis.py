"""Signing in and out: session login for the browser, API tokens for scripts, who am I, and
changing one's own password."""

from django.conf import settings
from django.contrib.auth import authenticate, login, logout, update_session_auth_hash
from django.middleware.csrf import get_token
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from kafkaml.errors import ApplicationError
from kafkaml.topics.namespace import topic_prefix

from .authentication import enforce_csrf
from .mode import single_user_mode
from .models import ApiToken
from .permissions import IsUser
from .services import LOGIN_TOKEN_NAME, password_change, token_create
from .throttles import PASSWORD_THROTTLES


class MeOutput(serializers.Serializer):
    authenticated = serializers.BooleanField(default=True)
    id = serializers.IntegerField()
    username = serializers.CharField()
    is_staff = serializers.BooleanField()
    single_user_mode = serializers.SerializerMethodField()
    kafka = serializers.SerializerMethodField()

    def get_single_user_mode(self, obj) -> bool:
        """True where the sandbox is incomplete and the platform serves one person only."""
        return single_user_mode()

    def get_kafka(self, obj) -> dict:
        """Where users send their data streams (for the snippets the UI shows), and the prefix
        their topics must start with (``kafkaml.topics.namespace``)."""
        return {
            "bootstrap_servers": settings.KAFKAML_PUBLIC_BOOTSTRAP_SERVERS
            or settings.KAFKA_BOOTSTRAP_SERVERS,
            "control_topic": settings.KAFKAML_CONTROL_TOPIC,
            "topic_prefix": topic_prefix(obj),
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
    """Session login for the browser (send the CSRF token from ``auth/csrf/`` first)."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = PASSWORD_THROTTLES

    @extend_schema(request=CredentialsInput, responses=MeOutput)
    def post(self, request):
        enforce_csrf(request)
        user = _check_credentials(request)
        login(request, user)
        return Response(MeOutput(user).data)


class LogoutApi(APIView):
    """Ends what the request signed in with: the API token it carries, or the session."""

    permission_classes = [IsUser]

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        if isinstance(request.auth, ApiToken):
            request.auth.delete()
        else:
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
    """A new API token for scripts (``Authorization: Token <token>``) on every call. It expires
    (``expiry``); list and revoke tokens at ``auth/tokens/``."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = PASSWORD_THROTTLES

    class NewTokenOutput(serializers.Serializer):
        token = serializers.CharField()
        id = serializers.CharField(source="public_id")
        expiry = serializers.DateTimeField(allow_null=True)

    @extend_schema(request=CredentialsInput, responses=NewTokenOutput)
    def post(self, request):
        user = _check_credentials(request)  # service accounts have no password: never pass
        token, secret = token_create(user=user, name=LOGIN_TOKEN_NAME, make_room=True)
        token.token = secret
        return Response(self.NewTokenOutput(token).data)


class PasswordApi(APIView):
    """Change one's own password. Every other token of the user is revoked; the session or
    token this request uses stays valid."""

    permission_classes = [IsUser]
    throttle_classes = PASSWORD_THROTTLES

    class PasswordChangeInput(serializers.Serializer):
        old_password = serializers.CharField(max_length=256)
        new_password = serializers.CharField(max_length=256)

    @extend_schema(request=PasswordChangeInput, responses={204: None})
    def post(self, request):
        data = self.PasswordChangeInput(data=request.data)
        data.is_valid(raise_exception=True)
        current = request.auth if isinstance(request.auth, ApiToken) else None
        password_change(user=request.user, current_token=current, **data.validated_data)
        if current is None:
            update_session_auth_hash(request, request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
