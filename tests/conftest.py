from kafkaml.conftest import executor, executor_url, launcher  # noqa: F401
