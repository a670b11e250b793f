from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "kafkaml.catalog"
    label = "catalog"
