"""Kafka-ML model-code validation service.

``mlcode_executor.usercode`` turns (framework, imports, code) into a model object (shared with the
training worker), ``mlcode_executor.kwargs`` parses deployment kwargs, ``mlcode_executor.client``
calls the HTTP service started with ``python -m mlcode_executor``. See docs/executor.md.
"""

DEFAULT_PORT = 8001
