from django.apps import AppConfig


class FederatedConfig(AppConfig):
    name = "kafkaml.federated"
    label = "federated"
    default_auto_field = "django.db.models.BigAutoField"
