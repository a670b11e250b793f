from django.apps import AppConfig


class WorkloadsConfig(AppConfig):
    name = "kafkaml.workloads"
    label = "workloads"
