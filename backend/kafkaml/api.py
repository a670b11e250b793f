"""Shared API building blocks: pagination and the owner-scoped queryset rule."""

from __future__ import annotations

from rest_framework.pagination import PageNumberPagination


class Pagination(PageNumberPagination):
    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 200


class OwnedQuerysetMixin:
    """A user only ever sees their own rows: every lookup goes through this queryset, so
    another user's id answers 404, never 403 (which would confirm the id exists)."""

    owner_field = "owner"

    def get_queryset(self):
        base = super().get_queryset()
        return base.filter(**{self.owner_field: self.request.user})
