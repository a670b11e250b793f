"""Kafka-ML inference worker: consume -> decode -> predict in micro-batches -> produce.

Run it with ``python -m model_inference`` (see ``docs/inference.md``).
"""
