"""Filters of the runs table (django-filter): by tag, status, framework, model, deployment."""

from __future__ import annotations

import django_filters

from .models import TrainingResult


class RunFilter(django_filters.FilterSet):
    tag = django_filters.CharFilter(method="filter_tag", label="A tag the run carries")
    framework = django_filters.CharFilter(field_name="model__framework")
    min_test_accuracy = django_filters.NumberFilter(field_name="test_accuracy", lookup_expr="gte")

    class Meta:
        model = TrainingResult
        fields = ["status", "model", "deployment"]

    def filter_tag(self, queryset, name, value):
        # Tags are stored as a JSON list of plain words (no quotes or escapes, see
        # TAG_PATTERN), so a quoted word matches one whole tag, in any database.
        return queryset.filter(tags__icontains=f'"{value}"')
