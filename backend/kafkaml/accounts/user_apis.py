"""Staff manage the other users: list, create, disable/enable, promote, reset a password."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from .permissions import IsStaffUser
from .selectors import people
from .services import user_create, user_set_password, user_update


class UserOutput(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    is_staff = serializers.BooleanField()
    is_active = serializers.BooleanField()
    date_joined = serializers.DateTimeField()
    last_login = serializers.DateTimeField(allow_null=True)


class UsersApi(APIView):
    permission_classes = [IsStaffUser]

    class UserCreateInput(serializers.Serializer):
        username = serializers.CharField(max_length=150)
        password = serializers.CharField(max_length=256)
        is_staff = serializers.BooleanField(required=False, default=False)

    @extend_schema(responses=UserOutput(many=True))
    def get(self, request):
        return Response(UserOutput(people(), many=True).data)

    @extend_schema(request=UserCreateInput, responses={201: UserOutput})
    def post(self, request):
        data = self.UserCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = user_create(**data.validated_data)
        return Response(UserOutput(user).data, status=status.HTTP_201_CREATED)


class UserApi(APIView):
    permission_classes = [IsStaffUser]

    class UserUpdateInput(serializers.Serializer):
        is_active = serializers.BooleanField(required=False)
        is_staff = serializers.BooleanField(required=False)

    @extend_schema(request=UserUpdateInput, responses=UserOutput)
    def patch(self, request, pk: int):
        user = get_object_or_404(people(), pk=pk)
        data = self.UserUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = user_update(user=user, by=request.user, **data.validated_data)
        return Response(UserOutput(user).data)


class UserPasswordApi(APIView):
    """Reset a user's password; their API tokens are revoked and their sessions end."""

    permission_classes = [IsStaffUser]

    class UserPasswordInput(serializers.Serializer):
        password = serializers.CharField(max_length=256)

    @extend_schema(request=UserPasswordInput, responses={204: None})
    def post(self, request, pk: int):
        user = get_object_or_404(people(), pk=pk)
        data = self.UserPasswordInput(data=request.data)
        data.is_valid(raise_exception=True)
        user_set_password(user=user, password=data.validated_data["password"])
        return Response(status=status.HTTP_204_NO_CONTENT)
