"""Keras models: recognise one and describe it (layers, parameters, input/output specs)."""

from __future__ import annotations

import math
from typing import Any

from mlcode_executor.usercode.errors import SandboxLimit
from mlcode_executor.usercode.shapes import shape_list
from mlcode_executor.usercode.source import Sources, assign_lines, error_from_exception


def is_keras_model(obj: Any) -> bool:
    import keras

    return isinstance(obj, keras.Model)


def describe(model: Any, shapes: list[tuple[int, ...]] | None, sources: Sources) -> dict[str, Any]:
    import keras
    import numpy as np
    import tensorflow as tf

    code_line = assign_lines(sources.text["code"]).get("model")
    notes: list[str] = []

    def run(fn: Any) -> Any:
        try:
            return fn()
        except (Exception, SystemExit, SandboxLimit) as exc:
            err = error_from_exception(exc, sources, "code")
            if err.line is None:
                err.line, err.section = code_line, "code"
                err.source_line = sources.line("code", code_line)
            raise err from None

    inputs = _keras_tensors(model, "inputs")
    if inputs is None:
        if shapes is None and not model.built:
            raise sources.error(
                "ModelNotBuilt",
                "the Keras model has no input shape: start it with keras.Input(shape=...) "
                "(or give input_shape in the request)",
                code_line,
            )
        if shapes is not None:
            if isinstance(model, keras.Sequential) and len(shapes) == 1 and not model.built:
                run(lambda: model.build((None, *shapes[0])))
                inputs = _keras_tensors(model, "inputs")
            if inputs is None:
                batch = [np.zeros((1, *s), dtype="float32") for s in shapes]
                out = run(lambda: model(batch[0] if len(batch) == 1 else batch, training=False))
                outs = out if isinstance(out, list | tuple) else [out]
                input_specs = [
                    {"name": f"input_{i}", "shape": [None, *s], "dtype": "float32"}
                    for i, s in enumerate(shapes)
                ]
                output_specs = [
                    {
                        "name": f"output_{i}",
                        "shape": [None, *shape_list(o.shape)[1:]],
                        "dtype": str(o.dtype.name if hasattr(o.dtype, "name") else o.dtype),
                    }
                    for i, o in enumerate(outs)
                ]
                notes.append("subclassed model: shapes inferred from a forward pass")
        else:
            raise sources.error(
                "ModelNotBuilt",
                "cannot infer the input shape of this Keras model: give input_shape",
                code_line,
            )
    if inputs is not None:
        input_specs = [_keras_spec(t, f"input_{i}") for i, t in enumerate(inputs)]
        outputs = _keras_tensors(model, "outputs") or []
        output_specs = [_keras_spec(t, f"output_{i}") for i, t in enumerate(outputs)]

    layers = []
    for layer in model.layers:
        try:
            out_shape: Any = layer.output.shape
            out_shape = shape_list(out_shape)
        except Exception:
            out_shape = None
        if isinstance(out_shape, list) and out_shape and isinstance(out_shape[0], list):
            pass
        params = int(sum(math.prod(w.shape) for w in layer.weights))
        trainable = int(sum(math.prod(w.shape) for w in layer.trainable_weights))
        layers.append(
            {
                "name": layer.name,
                "type": type(layer).__name__,
                "output_shape": out_shape,
                "params": params,
                "trainable_params": trainable,
            }
        )
    total = int(sum(math.prod(w.shape) for w in model.weights))
    trainable = int(sum(math.prod(w.shape) for w in model.trainable_weights))
    compiled = bool(getattr(model, "compiled", False))
    result: dict[str, Any] = {
        "framework": "tensorflow",
        "framework_version": tf.__version__,
        "keras_version": keras.__version__,
        "model_class": type(model).__name__,
        "layers": layers,
        "total_params": total,
        "trainable_params": trainable,
        "non_trainable_params": total - trainable,
        "inputs": input_specs,
        "outputs": output_specs,
        "compiled": compiled,
        "notes": notes,
    }
    if compiled:
        try:
            cfg = model.get_compile_config() or {}
            opt = cfg.get("optimizer")
            result["optimizer"] = opt.get("class_name") if isinstance(opt, dict) else str(opt)
            result["loss"] = _jsonable(cfg.get("loss"))
            result["metrics"] = _jsonable(cfg.get("metrics"))
        except Exception:
            result["optimizer"] = type(getattr(model, "optimizer", None)).__name__
    else:
        notes.append(
            "the model is not compiled: it will be compiled at deployment with the "
            "deployment's optimizer, loss and metrics"
        )
    return result


def _keras_tensors(model: Any, attr: str) -> list[Any] | None:
    try:
        value = getattr(model, attr)
    except Exception:
        return None
    if value is None:
        return None
    if not isinstance(value, list | tuple):
        value = [value]
    return list(value) or None


def _keras_spec(tensor: Any, default: str) -> dict[str, Any]:
    name = None
    history = getattr(tensor, "_keras_history", None)
    if history is not None:
        name = getattr(history[0], "name", None)
    name = name or getattr(tensor, "name", None) or default
    dtype = getattr(tensor, "dtype", "float32")
    return {"name": str(name), "shape": shape_list(tensor.shape), "dtype": str(dtype)}


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        if "class_name" in value and "config" in value:
            return value["class_name"]
        return {str(k): _jsonable(v) for k, v in value.items()}
    return getattr(value, "__name__", None) or type(value).__name__
