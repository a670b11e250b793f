"""``manage.py control_logger_credential``: record the control logger's key from
``KAFKAML_CONTROL_LOGGER_TOKEN`` (on Kubernetes a Secret that the control logger reads too).
Only its SHA-256 is stored; a changed Secret replaces the previous credential."""

import os

from django.core.management.base import BaseCommand, CommandError

from kafkaml.workloads.credentials import KEY_BYTES, control_logger_credential_ensure

ENV = "KAFKAML_CONTROL_LOGGER_TOKEN"


class Command(BaseCommand):
    help = "Store the control logger's credential (hashed) from $KAFKAML_CONTROL_LOGGER_TOKEN."

    def handle(self, *args, **options):
        key = os.environ.get(ENV, "").strip()
        if not key:
            raise CommandError(f"{ENV} is not set")
        try:
            control_logger_credential_ensure(key=key)
        except ValueError as exc:
            raise CommandError(f"{ENV}: {exc} (e.g. `openssl rand -hex {KEY_BYTES}`)") from exc
        self.stdout.write("control logger credential stored")
