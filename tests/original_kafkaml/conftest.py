from kafkaml.conftest import (  # noqa: F401
    client,
    launcher,
    make_deployment,
    make_model,
    other_user,
    user,
)
