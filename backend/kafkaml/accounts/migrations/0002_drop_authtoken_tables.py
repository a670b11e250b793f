"""DRF's ``authtoken`` kept API tokens in plain text; people now get hashed, expiring tokens
(``ApiToken``) and workloads their own credentials. Drop its table from databases made before,
so no plain-text token survives there (scripts get a new token from auth/token/)."""

from django.db import migrations


def drop_authtoken_table(apps, schema_editor):
    connection = schema_editor.connection
    if "authtoken_token" in connection.introspection.table_names():
        schema_editor.execute(f"DROP TABLE {schema_editor.quote_name('authtoken_token')}")
    recorder = migrations.recorder.MigrationRecorder(connection)
    recorder.migration_qs.filter(app="authtoken").delete()


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_api_token")]

    operations = [migrations.RunPython(drop_authtoken_table, migrations.RunPython.noop)]
