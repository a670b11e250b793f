from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "kafkaml.accounts"
    label = "accounts"
