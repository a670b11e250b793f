"""Kafka-ML model-code validation service, and the one sandbox for all user code.

``mlcode_executor.jail`` confines user code (validation here, training in a workload),
``mlcode_executor.usercode`` turns (framework, imports, code) into a model object (shared with the
training worker), ``mlcode_executor.kwargs`` parses deployment kwargs, ``mlcode_executor.client``
calls the HTTP service started with ``python -m mlcode_executor`` (``server`` → ``sandbox`` →
``zygote`` → ``worker``). See docs/executor.md and docs/security.md.
"""

DEFAULT_PORT = 8001
