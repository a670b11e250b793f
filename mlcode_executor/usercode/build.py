"""Building the user's ``model`` and checking it against the contract of its framework."""

from __future__ import annotations

import difflib
from typing import Any

from mlcode_executor.frameworks import normalize_framework
from mlcode_executor.usercode import keras as keras_model
from mlcode_executor.usercode import torch as torch_model
from mlcode_executor.usercode.errors import UserCodeError
from mlcode_executor.usercode.shapes import parse_input_shape
from mlcode_executor.usercode.source import Sources, assign_lines, last_line, run_user_code


def _model_kind_name(framework: str) -> str:
    return "a Keras model" if framework == "tensorflow" else "a torch nn.Module instance"


def _find_model(framework: str, namespace: dict[str, Any], sources: Sources) -> Any:
    code = sources.text["code"]
    assigned = assign_lines(code)
    is_model = (
        keras_model.is_keras_model if framework == "tensorflow" else torch_model.is_torch_module
    )
    if "model" not in namespace:
        candidates = [
            name
            for name, value in namespace.items()
            if not name.startswith("__") and not isinstance(value, type) and is_model(value)
        ]
        if candidates:
            name = candidates[-1]
            line = assigned.get(name, last_line(code))
            raise sources.error(
                "MissingModel",
                f"the code must assign the model to a variable named `model`; `{name}` holds "
                f"{_model_kind_name(framework)} - rename it to `model`",
                line,
            )
        close = difflib.get_close_matches("model", [n for n in assigned], n=1)
        hint = f" (did you mean `{close[0]}`, line {assigned[close[0]]}?)" if close else ""
        raise sources.error(
            "MissingModel",
            f"the code must define a variable named `model` holding "
            f"{_model_kind_name(framework)}{hint}",
            assigned[close[0]] if close else last_line(code),
        )
    model = namespace["model"]
    line = assigned.get("model", last_line(code))
    if isinstance(model, type):
        if (framework == "tensorflow" and _safe_issubclass(model, "keras", "Model")) or (
            framework == "pytorch" and _safe_issubclass(model, "torch.nn", "Module")
        ):
            raise sources.error(
                "InvalidModel",
                f"`model` is the class {model.__name__}, not an instance: "
                f"write `model = {model.__name__}()`",
                line,
            )
    if not is_model(model):
        other = "pytorch" if framework == "tensorflow" else "tensorflow"
        hint = ""
        try:
            if (torch_model.is_torch_module if other == "pytorch" else keras_model.is_keras_model)(
                model
            ):
                hint = f" (it looks like a {other} model: is the framework right?)"
        except ImportError:
            pass
        raise sources.error(
            "InvalidModel",
            f"`model` must be {_model_kind_name(framework)}, got {type(model).__name__}{hint}",
            line,
        )
    return model


def _safe_issubclass(cls: type, module: str, name: str) -> bool:
    try:
        import importlib

        base = getattr(importlib.import_module(module), name)
        return issubclass(cls, base)
    except Exception:
        return False


def build_model(framework: str, imports: str, code: str, input_shape: Any = None) -> Any:
    """Run the user's code and return its ``model``, checked against the contract.

    Raises ``UserCodeError`` (with the user's line) for any problem; ``ValueError`` for an
    unknown framework. ``input_shape`` is accepted for symmetry with ``describe_model``; it is
    not needed to build.
    """
    model, _ = _build(framework, imports, code)
    return model


def _build(framework: str, imports: str, code: str) -> tuple[Any, Sources]:
    framework = normalize_framework(framework)
    namespace = run_user_code(imports, code)
    sources: Sources = namespace["__kafkaml_sources__"]
    model = _find_model(framework, namespace, sources)
    if framework == "pytorch":
        model._kafkaml_contract = torch_model.check_contract(model, sources)
    return model, sources


# --------------------------------------------------------------------------------------------
# Describing a model


def describe_model(
    framework: str, model: Any, input_shape: Any = None, sources: Sources | None = None
) -> dict[str, Any]:
    """Layer-by-layer summary, parameter counts, input and output shapes of a built model."""
    framework = normalize_framework(framework)
    sources = sources or Sources("", "")
    try:
        shapes = parse_input_shape(input_shape)
    except ValueError as exc:
        raise UserCodeError("InvalidInputShape", str(exc), kind="input") from None
    if framework == "tensorflow":
        return keras_model.describe(model, shapes, sources)
    return torch_model.describe(model, shapes, sources)


def validate(framework: str, imports: str, code: str, input_shape: Any = None) -> dict[str, Any]:
    """Build and describe: the validation result (raises UserCodeError)."""
    model, sources = _build(framework, imports, code)
    return describe_model(framework, model, input_shape, sources)
