"""The global worker account (``kafkaml-service`` in the group ``kafkaml-workers``, with one
token every worker shared) is replaced by per-workload credentials: remove it, and its token
with it, from databases made before."""

from django.conf import settings
from django.db import migrations

SERVICE_USERNAME = "kafkaml-service"
WORKERS_GROUP = "kafkaml-workers"


def drop_global_worker_account(apps, schema_editor):
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    Group = apps.get_model("auth", "Group")
    User.objects.filter(username=SERVICE_USERNAME).delete()
    Group.objects.filter(name=WORKERS_GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("workloads", "0002_workload_credentials"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(drop_global_worker_account, migrations.RunPython.noop)]
