"""A user's own API tokens: list, create (the secret is shown once), revoke."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from .permissions import IsUser
from .selectors import user_tokens
from .services import token_create, token_revoke


class TokenOutput(serializers.Serializer):
    id = serializers.CharField(source="public_id")
    name = serializers.CharField()
    created = serializers.DateTimeField()
    expiry = serializers.DateTimeField(allow_null=True)
    current = serializers.SerializerMethodField()

    def get_current(self, obj) -> bool:
        """Whether this is the token the request itself was made with."""
        return getattr(self.context.get("current"), "pk", None) == obj.pk


class TokensApi(APIView):
    permission_classes = [IsUser]

    class TokenCreateInput(serializers.Serializer):
        name = serializers.CharField(max_length=100, allow_blank=True, required=False, default="")

    class TokenCreatedOutput(serializers.Serializer):
        id = serializers.CharField(source="public_id")
        name = serializers.CharField()
        token = serializers.CharField()
        expiry = serializers.DateTimeField(allow_null=True)

    @extend_schema(responses=TokenOutput(many=True))
    def get(self, request):
        tokens = user_tokens(user=request.user)
        return Response(TokenOutput(tokens, many=True, context={"current": request.auth}).data)

    @extend_schema(request=TokenCreateInput, responses={201: TokenCreatedOutput})
    def post(self, request):
        data = self.TokenCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        token, secret = token_create(user=request.user, name=data.validated_data["name"])
        token.token = secret
        return Response(self.TokenCreatedOutput(token).data, status=status.HTTP_201_CREATED)


class TokenApi(APIView):
    permission_classes = [IsUser]

    @extend_schema(responses={204: None})
    def delete(self, request, public_id: str):
        token_revoke(user=request.user, public_id=public_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
