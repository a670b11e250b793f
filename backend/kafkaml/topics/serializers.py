"""The shapes of ``/api/v1/auth/kafka/`` (the UI is built against these field names)."""

from rest_framework import serializers


class KafkaAccessOutput(serializers.Serializer):
    secured = serializers.BooleanField(
        help_text="Whether the platform issues Kafka credentials (SASL/SCRAM) on this cluster."
    )
    bootstrap_servers = serializers.CharField()
    security_protocol = serializers.CharField()
    sasl_mechanism = serializers.CharField(allow_null=True)
    username = serializers.CharField(allow_null=True, help_text="Your Kafka principal.")
    topic_prefix = serializers.CharField(help_text="Your topics (and groups) start with this.")
    group_prefix = serializers.CharField()
    control_topic = serializers.CharField()
    has_credentials = serializers.BooleanField()
    rotated_at = serializers.DateTimeField(allow_null=True)
    notice = serializers.CharField()


class KafkaCredentialsOutput(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(help_text="Shown once: it is kept nowhere.")
    security_protocol = serializers.CharField()
    sasl_mechanism = serializers.CharField()
    bootstrap_servers = serializers.CharField()
    rotated_at = serializers.DateTimeField()
