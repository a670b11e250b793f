"""The Celery app. Tasks are interfaces: they take an id and call a service."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kafkaml.settings.base")

app = Celery("kafkaml")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def _connect_signals(sender, **kwargs):
    from celery.signals import worker_ready

    @worker_ready.connect(weak=False)
    def _first_heartbeat(**_):
        from kafkaml.workloads.services import heartbeat_record

        heartbeat_record("celery")
