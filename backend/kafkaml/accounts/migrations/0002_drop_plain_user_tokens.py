"""People's DRF tokens were stored in plain text: delete them (scripts get a new, hashed,
expiring token from auth/token/). Only the workers' service token stays in authtoken."""

from django.db import migrations


def drop_plain_user_tokens(apps, schema_editor):
    Token = apps.get_model("authtoken", "Token")
    Token.objects.exclude(user__groups__name="kafkaml-workers").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_api_token"),
        ("authtoken", "0004_alter_tokenproxy_options"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(drop_plain_user_tokens, migrations.RunPython.noop)]
