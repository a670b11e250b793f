from __future__ import annotations

from .models import MLModel


def model_chain(model: MLModel) -> list[MLModel]:
    """The whole distributed chain a model belongs to, ordered edge first (lowest) to top.

    Chains are linear: each model has at most one upper model and, in a chain, one lower one.
    """
    top = model
    seen = {top.pk}
    while top.upper_model_id and top.upper_model_id not in seen:
        seen.add(top.upper_model_id)
        top = top.upper_model
    chain = [top]
    current = top
    while True:
        lower = current.lower_models.order_by("id").first()
        if lower is None or lower.pk in {m.pk for m in chain}:
            break
        chain.append(lower)
        current = lower
    return list(reversed(chain))


def model_is_chain_edge(model: MLModel) -> bool:
    return model.distributed and not model.lower_models.exists()


def model_versions(model: MLModel):
    """The model's versions, newest first, each with how many results trained with it."""
    from django.db.models import Count

    return model.versions.annotate(result_count=Count("results")).order_by("-number")
