from rest_framework.permissions import BasePermission

from .services import WORKERS_GROUP


def is_worker(user) -> bool:
    return bool(user and user.is_authenticated and user.groups.filter(name=WORKERS_GROUP).exists())


class IsUser(BasePermission):
    """A logged-in person (the service account is kept out of user endpoints)."""

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated) and not is_worker(request.user)


class IsStaffUser(IsUser):
    """A logged-in person with the staff flag: manages the other users."""

    message = "Only staff users may manage users."

    def has_permission(self, request, view):
        return super().has_permission(request, view) and request.user.is_staff
