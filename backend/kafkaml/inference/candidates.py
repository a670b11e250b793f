"""Shadow and canary: a second model version (the candidate) on an inference's input topic.

* shadow: every record is also predicted by the candidate; its outputs go to the shadow
  topic (the owner's, default ``<output topic>.shadow``); the replicas report how often it
  predicts the primary's class and the mean absolute difference of the values;
* canary: the records whose key hashes below ``canary_share`` are answered by the candidate
  on the output topic (a key keeps its model while the share stays).

Promote makes the candidate the primary (the ordinary swap: the replicas switch between
batches) and ends the comparison; roll back ends it and keeps the primary. Both are one call.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from kafkaml import realtime
from kafkaml.errors import ApplicationError
from kafkaml.topics.ownership import require_owned_topics
from kafkaml.training.models import TrainingResult

from . import services
from .models import Inference
from .selectors import _fresh_reports

MODES = ("shadow", "canary")


def _event(inference: Inference, action: str, **extra) -> None:
    inference.swap_history = [
        *inference.swap_history,
        {"candidate": action, **extra, "at": timezone.now().isoformat()},
    ]


def _clear(inference: Inference) -> None:
    inference.candidate_result = None
    inference.candidate_version = None
    inference.candidate_mode = ""
    inference.canary_share = 0.0
    inference.shadow_topic = ""


FIELDS = [
    "candidate_result",
    "candidate_version",
    "candidate_mode",
    "canary_share",
    "shadow_topic",
    "swap_history",
]


@transaction.atomic
def candidate_set(
    *,
    inference: Inference,
    result: TrainingResult,
    mode: str,
    version: int | None = None,
    share: float = 0.0,
    shadow_topic: str = "",
) -> Inference:
    services._require_active(inference)
    services._require_own_topics(inference)
    if result.owner_id != inference.owner_id:
        raise ApplicationError("Unknown result.", errors={"result": ["Not found."]})
    if mode not in MODES:
        raise ApplicationError("Unknown mode.", errors={"mode": ["shadow or canary."]})
    version = version or services._latest_version(result)
    if not result.artifacts.filter(version=version).exists():
        raise ApplicationError("No such model version.", errors={"version": ["Not found."]})
    if result.pk == inference.serving_result_id and version == inference.model_version:
        raise ApplicationError(
            "The candidate is the version served now.", errors={"result": ["Already served."]}
        )
    served = services._input_shape(inference.serving_result, inference.model_version)
    shape = services._input_shape(result, version)
    if served and shape and list(served)[1:] != list(shape)[1:]:
        raise ApplicationError(
            f"The candidate's input shape {shape} differs from the served {served}.",
            errors={"result": ["Input shapes differ."]},
        )
    if mode == "canary":
        if not 0.0 < share <= 1.0:
            raise ApplicationError(
                "A canary answers a share of the keys.", errors={"share": ["Within (0, 1]."]}
            )
        shadow_topic = ""
    else:
        share = 0.0
        shadow_topic = shadow_topic or f"{inference.output_topic}.shadow"
        services._check_topic("shadow_topic", shadow_topic)
        if shadow_topic in (inference.input_topic, inference.output_topic):
            raise ApplicationError(
                "The shadow topic must differ from the input and output topics.",
                errors={"shadow_topic": ["Give another topic."]},
            )
        require_owned_topics(inference.owner, {"shadow_topic": shadow_topic})
    inference.candidate_result = result
    inference.candidate_version = version
    inference.candidate_mode = mode
    inference.canary_share = share
    inference.shadow_topic = shadow_topic
    _event(inference, mode, result=result.pk, version=version, share=share)
    inference.save(update_fields=FIELDS)
    _push(inference)
    return inference


@transaction.atomic
def candidate_promote(*, inference: Inference) -> Inference:
    """The candidate becomes the primary (hot swap); the comparison ends."""
    if inference.candidate_result_id is None:
        raise ApplicationError("No candidate to promote.", errors={"candidate": ["None set."]})
    result, version = inference.candidate_result, inference.candidate_version
    inference = services.inference_swap(inference=inference, result=result, version=version)
    _clear(inference)
    _event(inference, "promoted", result=result.pk, version=version)
    inference.save(update_fields=FIELDS)
    _push(inference)
    return inference


@transaction.atomic
def candidate_rollback(*, inference: Inference) -> Inference:
    """Drop the candidate; the primary serves alone."""
    if inference.candidate_result_id is None:
        raise ApplicationError("No candidate to roll back.", errors={"candidate": ["None set."]})
    result, version = inference.candidate_result_id, inference.candidate_version
    _clear(inference)
    _event(inference, "rolled_back", result=result, version=version)
    inference.save(update_fields=FIELDS)
    _push(inference)
    return inference


def _push(inference: Inference) -> None:
    realtime.push(
        realtime.inference_group(inference.pk), "candidate", candidate_summary(inference) or {}
    )


def candidate_summary(inference: Inference) -> dict | None:
    """The candidate and its live comparison over the replicas that reported in the last
    30 s: agreement (share of records whose class equals the primary's) and mean absolute
    difference weighted by records (shadow), share answered by the candidate (canary)."""
    if inference.candidate_result_id is None:
        return None
    records = equal = answered = primary = errors = 0
    diff = 0.0
    for report in _fresh_reports(inference):
        cand = report.get("candidate") or {}
        if cand.get("version") != inference.candidate_version or cand.get("mode") != (
            inference.candidate_mode
        ):
            continue
        n = int(cand.get("records") or 0)
        records += n
        equal += int(cand.get("equal") or 0)
        diff += float(cand.get("mean_abs_diff") or 0) * n
        errors += int(cand.get("errors") or 0)
        answered += int(cand.get("answered") or 0)
        primary += int(cand.get("primary_answered") or 0)
    out = {
        "result": inference.candidate_result_id,
        "version": inference.candidate_version,
        "mode": inference.candidate_mode,
        "share": inference.canary_share,
        "shadow_topic": inference.shadow_topic or None,
        "records": records,
        "errors": errors,
    }
    if inference.candidate_mode == "shadow":
        out["agreement"] = round(equal / records, 6) if records else None
        out["mean_abs_diff"] = round(diff / records, 8) if records else None
    else:
        seen = answered + primary
        out["answered"] = answered
        out["answered_share"] = round(answered / seen, 4) if seen else None
    return out
