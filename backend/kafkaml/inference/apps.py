from django.apps import AppConfig


class InferenceConfig(AppConfig):
    name = "kafkaml.inference"
    label = "inference"
