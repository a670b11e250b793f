from django.db import models


class Heartbeat(models.Model):
    """The last sign of life of a platform component (Celery worker, control logger)."""

    component = models.CharField(max_length=50, unique=True)
    last_seen = models.DateTimeField()
    detail = models.JSONField(default=dict, blank=True)
