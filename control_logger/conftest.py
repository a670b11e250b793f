from kafkaml.conftest import client, control_logger_client, user  # noqa: F401
