from django.apps import AppConfig


class TrainingConfig(AppConfig):
    name = "kafkaml.training"
    label = "training"
