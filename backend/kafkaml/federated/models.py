from django.db import models

from kafkaml.training.models import Deployment

#: the coordinator's strategies (``model_training.federated.strategies``) and their parameters
STRATEGIES: dict[str, tuple[str, ...]] = {
    "fedavg": (),
    "fedprox": ("proximal_mu",),
    "fedadagrad": ("eta", "beta_1", "beta_2", "tau"),
    "fedadam": ("eta", "beta_1", "beta_2", "tau"),
    "fedyogi": ("eta", "beta_1", "beta_2", "tau"),
}


class FederatedSettings(models.Model):
    """A deployment trained by federated sites instead of one worker."""

    deployment = models.OneToOneField(
        Deployment, on_delete=models.CASCADE, related_name="federated", primary_key=True
    )
    rounds = models.PositiveIntegerField(default=5)
    min_data = models.PositiveIntegerField(default=0)  # samples a site needs to qualify
    strategy = models.CharField(
        max_length=20, default="fedavg", choices=[(s, s) for s in STRATEGIES]
    )
    strategy_params = models.JSONField(default=dict, blank=True)
    # which sites qualify: data_shape, labels, min_labels, framework
    restrictions = models.JSONField(default=dict, blank=True)
    expected_sites = models.PositiveIntegerField(null=True, blank=True)
    round_timeout_s = models.FloatField(default=120.0)
    # how long the coordinator waits for the sites' data (their announcements) after launch
    join_timeout_s = models.FloatField(default=600.0)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"federated deployment {self.deployment_id}"
