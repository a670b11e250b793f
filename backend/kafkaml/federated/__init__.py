"""A deployment's federated settings: rounds, minimum data per site, aggregation strategy and
data restrictions (``model_training.federated`` runs them; docs/training.md)."""
