"""A distributed (early-exit) chain deployed for inference as one action: one inference per
sub-model, each unsure sub-model's upper topic being the next one's input topic (generated in
the owner's namespace), the next one's input config derived from the previous output shape."""

from __future__ import annotations

import secrets

from django.db import transaction

from kafkaml.errors import ApplicationError
from kafkaml.topics.namespace import topic_prefix
from kafkaml.training.models import TrainingResult

from . import services
from .models import Inference

UPPER_FORMAT = "RAW"  # the worker writes a sub-model's to_upper rows as float32 little-endian


def chain_results(result: TrainingResult) -> list[TrainingResult]:
    """The chain ``result`` belongs to, edge (its leader) first; [] when it is no chain."""
    leader = result.chain_leader or result
    members = list(leader.chain_members.select_related("model").order_by("id"))
    return [leader, *members] if members else []


def _metadata(result: TrainingResult) -> dict:
    artifact = result.artifacts.order_by("-version").first()
    return (artifact.metadata if artifact else None) or {}


def upper_input_config(lower: TrainingResult) -> dict:
    """What the next sub-model reads: the lower one's ``to_upper`` output (its first output)
    as RAW float32 rows, with its shape when the artifact declares it."""
    outputs = _metadata(lower).get("outputs") or []
    config: dict = {"data_type": "float32"}
    dims = list((outputs[0].get("shape") if outputs else None) or [])[1:]
    if dims and all(isinstance(d, int) and d > 0 for d in dims):
        config["data_reshape"] = " ".join(str(d) for d in dims)
    return config


def chain_plan(*, owner, result: TrainingResult) -> dict:
    """The sub-models in order and what each reads (GET /inferences/chain/?result=); no
    members when the result is no chain's."""
    if result.owner_id != owner.pk:
        raise ApplicationError("Unknown result.", errors={"result": ["Not found."]})
    members = chain_results(result)
    if not members:
        return {"leader": None, "members": []}
    plan = []
    for index, member in enumerate(members):
        entry = {
            "result": member.pk,
            "model": member.model_id,
            "model_name": member.model.name,
            "status": member.status,
            "upper": index < len(members) - 1,  # it sends unsure records on: needs a limit
        }
        if index:
            entry |= {
                "input_format": UPPER_FORMAT,
                "input_config": upper_input_config(members[index - 1]),
            }
        plan.append(entry)
    return {"leader": members[0].pk, "members": plan}


def _limits(count: int, limit, limits) -> list[float]:
    if limits is None:
        if limit is None:
            raise ApplicationError(
                "A chain needs the confidence limit of its sub-models that send records on.",
                errors={"limit": ["Give the confidence limit, e.g. 0.8."]},
            )
        return [limit] * count
    if len(limits) != count:
        raise ApplicationError(
            f"Give one limit per sub-model that sends records on ({count}).",
            errors={"limits": [f"{count} values from 0 to 1, edge first."]},
        )
    return list(limits)


@transaction.atomic
def inference_chain_create(
    *,
    owner,
    result: TrainingResult,
    input_format: str,
    input_config: dict,
    input_topic: str,
    output_topic: str,
    limit: float | None = None,
    limits: list[float] | None = None,
    **serving,
) -> list[Inference]:
    """One inference per sub-model, edge first; all answer on ``output_topic``. Nothing is
    created (or launched) unless every sub-model is accepted."""
    plan = chain_plan(owner=owner, result=result)
    if not plan["members"]:
        raise ApplicationError(
            "This result is not part of a distributed chain.",
            errors={"result": ["Not a chain's result: deploy it with POST /inferences/."]},
        )
    members = [TrainingResult.objects.get(pk=m["result"]) for m in plan["members"]]
    per_model = _limits(len(members) - 1, limit, limits)
    token = secrets.token_hex(3)
    prefix = topic_prefix(owner)
    inferences = []
    reads = {"input_topic": input_topic, "input_format": input_format}
    reads["input_config"] = input_config
    for index, member in enumerate(members):
        last = index == len(members) - 1
        upper = "" if last else f"{prefix}chain-{members[0].pk}-{token}-to-{members[index + 1].pk}"
        fields = {**serving, **reads, "output_topic": output_topic, "upper_topic": upper}
        fields["limit"] = None if last else per_model[index]
        try:
            inferences.append(services.inference_create(owner=owner, result=member, **fields))
        except ApplicationError as exc:
            if index:  # name the sub-model the refusal is about
                exc.message = f"{member.model.name} (result #{member.pk}): {exc.message}"
            raise
        reads = {
            "input_topic": upper,
            "input_format": UPPER_FORMAT,
            "input_config": plan["members"][index + 1]["input_config"] if not last else {},
        }
    return inferences
