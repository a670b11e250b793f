"""Kafka-ML backend: Django project package."""
