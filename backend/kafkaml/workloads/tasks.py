from celery import shared_task


@shared_task
def reconcile_workloads() -> int:
    from .services import reconcile_workloads as reconcile

    return reconcile()


@shared_task
def heartbeat() -> None:
    from .services import heartbeat_record

    heartbeat_record("celery")
