"""Writes for models and configurations. Model code is validated by the executor before it is
stored: a model that does not build is refused with the executor's precise error."""

from __future__ import annotations

from django.db import transaction

from kafkaml.errors import ApplicationError, ConflictError

from . import executor_client
from .models import Configuration, MLModel, ModelVersion, ValidationStatus
from .selectors import model_chain

EDITABLE_MODEL_FIELDS = (
    "name",
    "description",
    "imports",
    "code",
    "framework",
    "distributed",
    "upper_model",
)


def _validation_failed(error: dict, field: str = "code", link: str | None = None):
    line = error.get("line")
    where = f" (line {line})" if line else ""
    message = f"Validation failed: {error.get('type', 'Error')}: {error.get('message', '')}{where}"
    extra = {"validation": error}
    if link:
        extra["link"] = link
    return ApplicationError(message, errors={field: [message]}, extra=extra)


def _validate(model: MLModel) -> None:
    """Ask the executor; fill the summary on success, raise a 400 on failure."""
    outcome = executor_client.validate_model(
        framework=model.framework, imports=model.imports, code=model.code, user=model.owner_id
    )
    if not outcome.get("ok"):
        error = outcome.get("error") or {}
        field = "imports" if error.get("section") == "imports" else "code"
        raise _validation_failed(error, field)
    result = outcome.get("result") or {}
    model.validation_status = ValidationStatus.VALID
    model.validation_error = None
    model.summary = result
    model.input_shape = [spec.get("shape") for spec in result.get("inputs", [])]
    model.output_shape = [spec.get("shape") for spec in result.get("outputs", [])]

    if model.distributed and model.upper_model_id:
        chain = [model, *model_chain_above(model)]
        outcome = executor_client.validate_chain(
            framework=model.framework,
            models=[{"name": m.name, "imports": m.imports, "code": m.code} for m in chain],
            user=model.owner_id,
        )
        if not outcome.get("ok"):
            error = outcome.get("error") or {}
            raise _validation_failed(error, "upper_model", link=error.get("link"))


def model_chain_above(model: MLModel) -> list[MLModel]:
    chain, seen, current = [], {model.pk}, model.upper_model
    while current is not None:
        if current.pk in seen:
            raise ApplicationError(
                "The upper models form a loop.", errors={"upper_model": ["The chain loops."]}
            )
        seen.add(current.pk)
        chain.append(current)
        current = current.upper_model
    return chain


def _check_upper(model: MLModel) -> None:
    upper = model.upper_model
    if upper is None:
        return
    if not model.distributed:
        raise ApplicationError(
            "Only a distributed model has an upper model.",
            errors={"upper_model": ["Set distributed to true, or leave the upper model empty."]},
        )
    if upper.owner_id != model.owner_id:
        raise ApplicationError("Unknown upper model.", errors={"upper_model": ["Not found."]})
    if not upper.distributed:
        raise ApplicationError(
            "The upper model must be a distributed model too.",
            errors={"upper_model": ["The upper model is not distributed."]},
        )
    if upper.framework != model.framework:
        raise ApplicationError(
            "A chain uses one framework.",
            errors={"upper_model": ["The upper model uses another framework."]},
        )
    model_chain_above(model)


def model_create(*, owner, **fields) -> MLModel:
    """Validated by the executor first, outside any transaction (no database lock is held
    while user code runs elsewhere), then stored."""
    model = MLModel(owner=owner, **fields)
    _check_unique_name(model)
    _check_upper(model)
    _validate(model)
    with transaction.atomic():
        _check_unique_name(model)
        model.save()
        model_version_current(model)
    return model


def model_version_current(model: MLModel) -> ModelVersion:
    """The version holding the model's code now (version 1 made on first need)."""
    version = model.versions.order_by("-number").first()
    if version is None:
        version = ModelVersion.objects.create(
            model=model, number=1, imports=model.imports, code=model.code, framework=model.framework
        )
    return version


def _model_version_follow(model: MLModel) -> ModelVersion:
    """After a code change: a version no result used yet is updated in place; one that a
    result trained with is immutable, so the next version is added."""
    current = model.versions.select_for_update().order_by("-number").first()
    if current is None:
        return model_version_current(model)
    if current.results.exists():
        return ModelVersion.objects.create(
            model=model,
            number=current.number + 1,
            imports=model.imports,
            code=model.code,
            framework=model.framework,
        )
    current.imports, current.code, current.framework = model.imports, model.code, model.framework
    current.save(update_fields=["imports", "code", "framework"])
    return current


def _check_unique_name(model: MLModel) -> None:
    if MLModel.objects.filter(owner=model.owner, name=model.name).exclude(pk=model.pk).exists():
        raise ApplicationError(
            "A model with this name exists.",
            errors={"name": ["You already have a model named so."]},
        )


def model_update(*, model: MLModel, **fields) -> MLModel:
    code_changed = False
    for name, value in fields.items():
        if name not in EDITABLE_MODEL_FIELDS:
            continue
        if name in ("imports", "code", "framework", "distributed", "upper_model"):
            code_changed = code_changed or getattr(model, name) != value
        setattr(model, name, value)
    if "name" in fields:
        _check_unique_name(model)
    if (
        code_changed
        and model.results.exclude(status__in=["finished", "failed", "stopped"]).exists()
    ):
        raise ConflictError("The model is training; stop its results before changing its code.")
    _check_upper(model)
    if code_changed:
        _validate(model)
    with transaction.atomic():
        model.save()
        if code_changed:
            _model_version_follow(model)
    return model


@transaction.atomic
def model_delete(*, model: MLModel) -> None:
    reasons = model_delete_blockers(model)
    if reasons:
        raise ConflictError(f"The model is in use: {reasons[0]}", errors={"model": reasons})
    model.delete()


def model_delete_blockers(model: MLModel) -> list[str]:
    reasons = []
    names = list(model.configurations.values_list("name", flat=True)[:3])
    if names:
        reasons.append(f"it is part of the configuration(s) {', '.join(names)}")
    if model.lower_models.exists():
        reasons.append("it is the upper model of another model")
    if model.results.exists():
        reasons.append("it has training results")
    return reasons


def _expand_chains(models: list[MLModel]) -> list[MLModel]:
    expanded: dict[int, MLModel] = {}
    for model in models:
        for member in model_chain(model) if model.distributed else [model]:
            expanded[member.pk] = member
    return list(expanded.values())


def _check_models(owner, models: list[MLModel]) -> list[MLModel]:
    if not models:
        raise ApplicationError(
            "A configuration needs at least one model.", errors={"models": ["Pick a model."]}
        )
    if any(m.owner_id != owner.pk for m in models):
        raise ApplicationError("Unknown model.", errors={"models": ["Not found."]})
    return _expand_chains(models)


@transaction.atomic
def configuration_create(*, owner, name: str, description: str = "", models: list) -> Configuration:
    configuration = Configuration.objects.create(owner=owner, name=name, description=description)
    configuration.models.set(_check_models(owner, models))
    return configuration


@transaction.atomic
def configuration_update(*, configuration: Configuration, **fields) -> Configuration:
    models = fields.pop("models", None)
    if models is not None and configuration.deployments.exists():
        raise ConflictError(
            "The configuration has deployments; make a new configuration to change its models.",
            errors={"models": ["The configuration has deployments."]},
        )
    for name in ("name", "description"):
        if name in fields:
            setattr(configuration, name, fields[name])
    configuration.save()
    if models is not None:
        configuration.models.set(_check_models(configuration.owner, models))
    return configuration


@transaction.atomic
def configuration_delete(*, configuration: Configuration) -> None:
    if configuration.deployments.exists():
        raise ConflictError(
            "The configuration has deployments; delete them first.",
            errors={"configuration": ["The configuration has deployments."]},
        )
    configuration.delete()
