from kafkaml.conftest import client, user, worker_client  # noqa: F401
