from django.apps import AppConfig


class TopicsConfig(AppConfig):
    name = "kafkaml.topics"
    label = "topics"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (a deleted or disabled user loses their principals)
