from django.contrib.auth.models import AbstractBaseUser
from rest_framework.permissions import BasePermission


class IsUser(BasePermission):
    """A signed-in person: a workload's credential (``kafkaml.workloads.auth``) is no user and
    never passes, whatever endpoint it tries."""

    def has_permission(self, request, view):
        user = request.user
        return isinstance(user, AbstractBaseUser) and user.is_authenticated and user.is_active


class IsStaffUser(IsUser):
    """A signed-in person with the staff flag: manages the other users."""

    message = "Only staff users may manage users."

    def has_permission(self, request, view):
        return super().has_permission(request, view) and request.user.is_staff
