"""Turn user model code into a model object, and describe it.

This is the one implementation shared by the validation sandbox and the training worker::

    from mlcode_executor.usercode import build_model, describe_model, UserCodeError

    try:
        model = build_model("tensorflow", imports, code)
    except UserCodeError as exc:
        report(exc.to_dict())   # {type, message, line, column, source_line, section, kind, ...}

The user writes two text fields: ``imports`` and ``code``. Both are compiled with recognisable
file names (``<model imports>`` and ``<model code>``) and run in one fresh namespace, so any
exception can be traced back to a line and column of the user's own text. The code must define
``model``:

* TensorFlow: a Keras model (compiled, or uncompiled and compiled at deployment).
* PyTorch: an ``nn.Module`` instance whose class also defines ``loss_fn()``, ``optimizer()`` and
  ``metrics()`` (a dict of pytorch-ignite metrics), and declares ``input_shape`` (one sample,
  without the batch dimension) unless the caller gives one.

Framework imports are lazy: importing this module imports neither TensorFlow nor PyTorch.
"""

from __future__ import annotations

import ast
import builtins
import difflib
import math
import traceback
from dataclasses import dataclass, field
from typing import Any

FRAMEWORKS = ("tensorflow", "pytorch")
_ALIASES = {
    "tensorflow": "tensorflow",
    "tf": "tensorflow",
    "keras": "tensorflow",
    "pytorch": "pytorch",
    "torch": "pytorch",
}
SECTIONS = ("imports", "code")
FILENAMES = {"imports": "<model imports>", "code": "<model code>"}
_SECTION_OF = {v: k for k, v in FILENAMES.items()}
PYTORCH_METHODS = ("loss_fn", "optimizer", "metrics")
MODEL_NAMESPACE = "model_code"
# Batch size used for the PyTorch shape-inference forward pass (2: BatchNorm needs more than one).
PROBE_BATCH = 2


class SandboxLimit(BaseException):
    """Raised inside user code by the sandbox when a limit is hit (caught like an exception)."""

    kind = "limit"


class WallClockLimit(SandboxLimit):
    kind = "timeout"


class CpuTimeLimit(SandboxLimit):
    kind = "cpu"


@dataclass(eq=False)
class UserCodeError(Exception):
    """A problem with user code, located in the user's text when possible.

    ``line`` and ``column`` are 1-based and refer to ``section`` ("imports" or "code").
    ``kind``: syntax | exception | contract | memory | timeout | cpu | input.
    """

    type: str
    message: str
    line: int | None = None
    column: int | None = None
    source_line: str | None = None
    section: str | None = None
    kind: str = "exception"
    trace: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        Exception.__init__(self, self.message)

    def __str__(self) -> str:
        where = ""
        if self.line is not None:
            where = f" ({self.section or 'code'} line {self.line}"
            where += f", column {self.column})" if self.column else ")"
        return f"{self.type}: {self.message}{where}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "message": self.message,
            "line": self.line,
            "column": self.column,
            "source_line": self.source_line,
            "section": self.section,
            "kind": self.kind,
            "trace": list(self.trace),
        }


def normalize_framework(framework: str) -> str:
    """'tensorflow' | 'pytorch' (aliases: tf, keras, torch); ValueError otherwise."""
    name = _ALIASES.get(str(framework).strip().lower())
    if name is None:
        raise ValueError(f"unknown framework {framework!r}: use 'tensorflow' or 'pytorch'")
    return name


# --------------------------------------------------------------------------------------------
# Running the user's text and locating errors


class _Sources:
    def __init__(self, imports: str, code: str) -> None:
        self.text = {"imports": imports or "", "code": code or ""}
        self.lines = {k: v.splitlines() for k, v in self.text.items()}

    def line(self, section: str | None, lineno: int | None) -> str | None:
        if section not in self.lines or not lineno:
            return None
        lines = self.lines[section]
        if 1 <= lineno <= len(lines):
            return lines[lineno - 1].rstrip()
        return None

    def error(
        self,
        type_: str,
        message: str,
        line: int | None,
        *,
        section: str = "code",
        column: int | None = None,
        kind: str = "contract",
    ) -> UserCodeError:
        return UserCodeError(type_, message, line, column, self.line(section, line), section, kind)


def _exception_message(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        code = exc.code
        return f"the model code called sys.exit({'' if code is None else repr(code)})"
    message = str(exc).strip()
    if isinstance(exc, KeyError) and exc.args:
        message = repr(exc.args[0])
    return message or type(exc).__name__


def _exception_kind(exc: BaseException) -> str:
    if isinstance(exc, SandboxLimit):
        return exc.kind
    if isinstance(exc, MemoryError):
        return "memory"
    text = str(exc)
    if isinstance(exc, RuntimeError) and (
        "can't allocate memory" in text or "DefaultCPUAllocator" in text
    ):
        return "memory"
    if type(exc).__name__ == "ResourceExhaustedError":
        return "memory"
    return "exception"


def error_from_exception(
    exc: BaseException, sources: _Sources, default_section: str | None = None
) -> UserCodeError:
    """Map an exception raised while running user code to the user's line and column."""
    if isinstance(exc, SyntaxError) and exc.filename in _SECTION_OF:
        section = _SECTION_OF[exc.filename]
        return UserCodeError(
            type(exc).__name__,
            exc.msg or "invalid syntax",
            exc.lineno,
            exc.offset,
            sources.line(section, exc.lineno) or (exc.text or "").rstrip() or None,
            section,
            "syntax",
        )
    trace = []
    for frame in traceback.extract_tb(exc.__traceback__):
        section = _SECTION_OF.get(frame.filename)
        if section is None:
            continue
        column = frame.colno + 1 if getattr(frame, "colno", None) is not None else None
        trace.append(
            {
                "section": section,
                "line": frame.lineno,
                "column": column,
                "function": frame.name,
                "source_line": sources.line(section, frame.lineno),
            }
        )
    last = trace[-1] if trace else {}
    return UserCodeError(
        type(exc).__name__,
        _exception_message(exc),
        last.get("line"),
        last.get("column"),
        last.get("source_line"),
        last.get("section", default_section),
        _exception_kind(exc),
        trace,
    )


def run_user_code(imports: str, code: str) -> dict[str, Any]:
    """Compile and run ``imports`` then ``code`` in one fresh namespace; return the namespace."""
    sources = _Sources(imports, code)
    namespace: dict[str, Any] = {"__name__": MODEL_NAMESPACE, "__builtins__": builtins}
    for section in SECTIONS:
        text = sources.text[section]
        try:
            compiled = compile(text, FILENAMES[section], "exec", dont_inherit=True)
        except SyntaxError as exc:
            raise error_from_exception(exc, sources) from None
        except ValueError as exc:  # e.g. source code string cannot contain null bytes
            raise sources.error(
                "SyntaxError", str(exc), None, section=section, kind="syntax"
            ) from None
        try:
            exec(compiled, namespace)  # noqa: S102 - running user code is this module's purpose
        except (Exception, SystemExit, SandboxLimit) as exc:
            raise error_from_exception(exc, sources, section) from None
    namespace["__kafkaml_sources__"] = sources
    return namespace


def _assign_lines(code: str) -> dict[str, int]:
    """Top-level name -> line of its last assignment (or class/def) in ``code``."""
    try:
        tree = ast.parse(code or "")
    except SyntaxError:
        return {}
    lines: dict[str, int] = {}
    for node in tree.body:
        targets: list[ast.AST] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, ast.AnnAssign | ast.AugAssign):
            targets = [node.target]
        elif isinstance(node, ast.ClassDef | ast.FunctionDef):
            lines[node.name] = node.lineno
            continue
        for target in targets:
            for name in ast.walk(target):
                if isinstance(name, ast.Name):
                    lines[name.id] = node.lineno
    return lines


def _class_line(code: str, class_name: str) -> int | None:
    try:
        tree = ast.parse(code or "")
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            return node.lineno
    return None


def _last_line(code: str) -> int | None:
    lines = (code or "").splitlines()
    for i in range(len(lines), 0, -1):
        if lines[i - 1].strip():
            return i
    return None


# --------------------------------------------------------------------------------------------
# Building the model


def _is_keras_model(obj: Any) -> bool:
    import keras

    return isinstance(obj, keras.Model)


def _is_torch_module(obj: Any) -> bool:
    import torch.nn as nn

    return isinstance(obj, nn.Module)


def _model_kind_name(framework: str) -> str:
    return "a Keras model" if framework == "tensorflow" else "a torch nn.Module instance"


def _find_model(framework: str, namespace: dict[str, Any], sources: _Sources) -> Any:
    code = sources.text["code"]
    assigned = _assign_lines(code)
    is_model = _is_keras_model if framework == "tensorflow" else _is_torch_module
    if "model" not in namespace:
        candidates = [
            name
            for name, value in namespace.items()
            if not name.startswith("__") and not isinstance(value, type) and is_model(value)
        ]
        if candidates:
            name = candidates[-1]
            line = assigned.get(name, _last_line(code))
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
            assigned[close[0]] if close else _last_line(code),
        )
    model = namespace["model"]
    line = assigned.get("model", _last_line(code))
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
            if (_is_torch_module if other == "pytorch" else _is_keras_model)(model):
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


def _method_line(method: Any, fallback: int | None) -> int | None:
    code = getattr(getattr(method, "__func__", method), "__code__", None)
    if code is not None and code.co_filename == FILENAMES["code"]:
        return code.co_firstlineno
    return fallback


def _check_pytorch_contract(model: Any, sources: _Sources) -> dict[str, Any]:
    import torch

    code = sources.text["code"]
    cls = type(model)
    class_line = _class_line(code, cls.__name__) or _assign_lines(code).get("model")
    for name in PYTORCH_METHODS:
        if not callable(getattr(cls, name, None)):
            examples = {
                "loss_fn": "def loss_fn(self): return nn.CrossEntropyLoss()",
                "optimizer": "def optimizer(self): return torch.optim.Adam(self.parameters())",
                "metrics": "def metrics(self): return {'accuracy': Accuracy()}",
            }
            raise sources.error(
                "MissingMethod",
                f"class {cls.__name__} must define `{name}()`, e.g. `{examples[name]}`",
                class_line,
            )

    def call(name: str) -> Any:
        try:
            return getattr(model, name)()
        except (Exception, SystemExit, SandboxLimit) as exc:
            raise error_from_exception(exc, sources, "code") from None

    loss = call("loss_fn")
    if not callable(loss):
        raise sources.error(
            "InvalidLoss",
            f"{cls.__name__}.loss_fn() must return a loss function (e.g. nn.CrossEntropyLoss()), "
            f"got {type(loss).__name__}",
            _method_line(cls.loss_fn, class_line),
        )
    optimizer = call("optimizer")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise sources.error(
            "InvalidOptimizer",
            f"{cls.__name__}.optimizer() must return a torch.optim.Optimizer "
            f"(e.g. torch.optim.Adam(self.parameters())), got {type(optimizer).__name__}",
            _method_line(cls.optimizer, class_line),
        )
    metrics = call("metrics")
    metrics_line = _method_line(cls.metrics, class_line)
    if not isinstance(metrics, dict):
        raise sources.error(
            "InvalidMetrics",
            f"{cls.__name__}.metrics() must return a dict of pytorch-ignite metrics "
            f"(e.g. {{'accuracy': Accuracy()}}), got {type(metrics).__name__}",
            metrics_line,
        )
    try:
        from ignite.metrics import Metric
    except ImportError:  # pragma: no cover - ignite is a pinned dependency
        Metric = None  # noqa: N806
    for key, value in metrics.items():
        if not isinstance(key, str):
            raise sources.error(
                "InvalidMetrics", f"metric names must be strings, got {key!r}", metrics_line
            )
        if Metric is not None and not isinstance(value, Metric):
            raise sources.error(
                "InvalidMetrics",
                f"metric {key!r} must be a pytorch-ignite Metric (ignite.metrics), "
                f"got {type(value).__name__}",
                metrics_line,
            )
    return {
        "loss": type(loss).__name__ if not hasattr(loss, "__name__") else loss.__name__,
        "optimizer": type(optimizer).__name__,
        "metrics": sorted(metrics),
    }


def build_model(framework: str, imports: str, code: str, input_shape: Any = None) -> Any:
    """Run the user's code and return its ``model``, checked against the contract.

    Raises ``UserCodeError`` (with the user's line) for any problem; ``ValueError`` for an
    unknown framework. ``input_shape`` is accepted for symmetry with ``describe_model``; it is
    not needed to build.
    """
    model, _ = _build(framework, imports, code)
    return model


def _build(framework: str, imports: str, code: str) -> tuple[Any, _Sources]:
    framework = normalize_framework(framework)
    namespace = run_user_code(imports, code)
    sources: _Sources = namespace["__kafkaml_sources__"]
    model = _find_model(framework, namespace, sources)
    if framework == "pytorch":
        model._kafkaml_contract = _check_pytorch_contract(model, sources)
    return model, sources


# --------------------------------------------------------------------------------------------
# Describing a model


def _shape(shape: Any) -> list[int | None]:
    return [None if d is None else int(d) for d in tuple(shape)]


def _parse_input_shape(value: Any) -> list[tuple[int, ...]] | None:
    """(28, 28) -> [(28, 28)]; [(4,), (3,)] -> two inputs; None -> None."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list | tuple) or not value:
        raise ValueError(f"input_shape must be a tuple of positive integers, got {value!r}")
    if all(isinstance(v, list | tuple) for v in value):
        shapes = [tuple(v) for v in value]
    else:
        shapes = [tuple(value)]
    for shape in shapes:
        for d in shape:
            if isinstance(d, bool) or not isinstance(d, int) or d <= 0:
                raise ValueError(
                    f"input_shape must contain positive integers (one sample, no batch "
                    f"dimension), got {value!r}"
                )
    return shapes


def describe_model(
    framework: str, model: Any, input_shape: Any = None, sources: _Sources | None = None
) -> dict[str, Any]:
    """Layer-by-layer summary, parameter counts, input and output shapes of a built model."""
    framework = normalize_framework(framework)
    sources = sources or _Sources("", "")
    try:
        shapes = _parse_input_shape(input_shape)
    except ValueError as exc:
        raise UserCodeError("InvalidInputShape", str(exc), kind="input") from None
    if framework == "tensorflow":
        return _describe_keras(model, shapes, sources)
    return _describe_torch(model, shapes, sources)


def validate(framework: str, imports: str, code: str, input_shape: Any = None) -> dict[str, Any]:
    """Build and describe: the validation result (raises UserCodeError)."""
    model, sources = _build(framework, imports, code)
    return describe_model(framework, model, input_shape, sources)


def _describe_keras(
    model: Any, shapes: list[tuple[int, ...]] | None, sources: _Sources
) -> dict[str, Any]:
    import keras
    import numpy as np
    import tensorflow as tf

    code_line = _assign_lines(sources.text["code"]).get("model")
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
                        "shape": [None, *_shape(o.shape)[1:]],
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
            out_shape = _shape(out_shape)
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
    return {"name": str(name), "shape": _shape(tensor.shape), "dtype": str(dtype)}


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


_TORCH_DTYPES = {
    "float32": "float32",
    "float": "float32",
    "float64": "float64",
    "double": "float64",
    "float16": "float16",
    "int64": "int64",
    "long": "int64",
    "int32": "int32",
    "int": "int32",
}


def _describe_torch(
    model: Any, shapes: list[tuple[int, ...]] | None, sources: _Sources
) -> dict[str, Any]:
    import torch

    code = sources.text["code"]
    cls = type(model)
    class_line = _class_line(code, cls.__name__) or _assign_lines(code).get("model")
    if shapes is None:
        declared = getattr(model, "input_shape", None)
        if declared is None:
            raise sources.error(
                "MissingInputShape",
                f"class {cls.__name__} must declare the shape of one input sample, without the "
                f"batch dimension, e.g. `input_shape = (28, 28)` (or the request must give "
                f"input_shape)",
                class_line,
            )
        try:
            shapes = _parse_input_shape(declared)
        except ValueError as exc:
            raise sources.error("InvalidInputShape", str(exc), class_line) from None
    assert shapes is not None
    dtype_name = getattr(model, "input_dtype", "float32")
    if isinstance(dtype_name, torch.dtype):
        dtype = dtype_name
    else:
        key = _TORCH_DTYPES.get(str(dtype_name).replace("torch.", ""))
        if key is None:
            raise sources.error(
                "InvalidInputDtype", f"unsupported input_dtype {dtype_name!r}", class_line
            )
        dtype = getattr(torch, key)

    calls: list[tuple[str, Any]] = []
    hooks = []
    leaves = [(n, m) for n, m in model.named_modules() if n and not any(True for _ in m.children())]

    def hook_for(name: str) -> Any:
        def hook(module: Any, args: Any, output: Any) -> None:
            calls.append((name, output))

        return hook

    for name, module in leaves:
        hooks.append(module.register_forward_hook(hook_for(name)))
    was_training = model.training
    xs = [torch.zeros((PROBE_BATCH, *s), dtype=dtype) for s in shapes]
    try:
        model.eval()
        with torch.no_grad():
            out = model(*xs)
    except (Exception, SystemExit, SandboxLimit) as exc:
        err = error_from_exception(exc, sources, "code")
        err.message = (
            f"{err.message} (forward pass with a zero batch of input shape "
            f"{[list(s) for s in shapes]})"
        )
        raise err from None
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)

    def spec_shape(t: Any) -> Any:
        if isinstance(t, torch.Tensor):
            s = list(t.shape)
            return [None, *s[1:]] if s and s[0] == PROBE_BATCH else s
        if isinstance(t, list | tuple):
            return [spec_shape(v) for v in t]
        return None

    outs = list(out) if isinstance(out, list | tuple) else [out]
    for i, o in enumerate(outs):
        if not isinstance(o, torch.Tensor):
            raise sources.error(
                "InvalidOutput",
                f"forward() must return a tensor or a tuple of tensors (to_upper, output); "
                f"output {i} is {type(o).__name__}",
                _method_line(getattr(cls, "forward", None), class_line),
            )
    layer_rows: dict[str, dict[str, Any]] = {}
    modules = dict(leaves)
    for name, output in calls + [(n, None) for n, _ in leaves]:
        if name in layer_rows:
            continue
        module = modules[name]
        params = sum(p.numel() for p in module.parameters(recurse=False))
        trainable = sum(p.numel() for p in module.parameters(recurse=False) if p.requires_grad)
        layer_rows[name] = {
            "name": name,
            "type": type(module).__name__,
            "output_shape": spec_shape(output),
            "params": int(params),
            "trainable_params": int(trainable),
        }
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    try:
        import ignite

        ignite_version = ignite.__version__
    except ImportError:  # pragma: no cover
        ignite_version = None
    contract = getattr(model, "_kafkaml_contract", {})
    dtype_str = str(dtype).replace("torch.", "")
    return {
        "framework": "pytorch",
        "framework_version": torch.__version__,
        "ignite_version": ignite_version,
        "model_class": cls.__name__,
        "layers": list(layer_rows.values()),
        "total_params": int(total),
        "trainable_params": int(trainable),
        "non_trainable_params": int(total - trainable),
        "inputs": [
            {"name": f"input_{i}", "shape": [None, *s], "dtype": dtype_str}
            for i, s in enumerate(shapes)
        ],
        "outputs": [
            {
                "name": f"output_{i}",
                "shape": spec_shape(o),
                "dtype": str(o.dtype).replace("torch.", ""),
            }
            for i, o in enumerate(outs)
        ],
        "compiled": True,
        "loss": contract.get("loss"),
        "optimizer": contract.get("optimizer"),
        "metrics": contract.get("metrics"),
        "notes": [],
    }


# --------------------------------------------------------------------------------------------
# Distributed chains


def _fmt_shape(shape: Any) -> str:
    if not isinstance(shape, list):
        return str(shape)
    return (
        "("
        + ", ".join("None" if d is None else str(d) for d in shape)
        + (",)" if len(shape) == 1 else ")")
    )


def check_chain(models: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Check the links of a distributed chain (edge first).

    ``models``: ``[{"name": ..., "result": <describe result> or None}, ...]``. Every model but
    the last must return ``(to_upper, output)``; its ``to_upper`` shape must equal the input
    shape of the model above it (batch dimension ignored). Returns one entry per link:
    ``{"name": "edge → fog", "from", "to", "ok", "message"}``.
    """
    links = []
    for lower, upper in zip(models, models[1:], strict=False):
        name = f"{lower['name']} → {upper['name']}"
        link: dict[str, Any] = {"name": name, "from": lower["name"], "to": upper["name"]}
        lres, ures = lower.get("result"), upper.get("result")
        if lres is None or ures is None:
            bad = lower["name"] if lres is None else upper["name"]
            link.update(
                ok=False,
                skipped=True,
                message=f"{name}: not checked because {bad} did not validate",
            )
            links.append(link)
            continue
        outs, ins = lres["outputs"], ures["inputs"]
        if len(outs) != 2:
            link.update(
                ok=False,
                message=f"{name}: {lower['name']} must return two outputs (to_upper, output) "
                f"to feed {upper['name']}, it returns {len(outs)}",
            )
        elif len(ins) != 1:
            link.update(
                ok=False,
                message=f"{name}: {upper['name']} must take exactly one input "
                f"(the to_upper of {lower['name']}), it takes {len(ins)}",
            )
        else:
            sent, expected = outs[0]["shape"], ins[0]["shape"]
            if _compatible(sent, expected):
                link.update(ok=True, message=f"{name}: {_fmt_shape(sent)} matches")
            else:
                link.update(
                    ok=False,
                    message=f"{name}: {lower['name']} sends to_upper of shape "
                    f"{_fmt_shape(sent)} but {upper['name']} expects input of shape "
                    f"{_fmt_shape(expected)}",
                )
        link.setdefault("ok", False)
        links.append(link)
    return links


def _compatible(a: Any, b: Any) -> bool:
    if not isinstance(a, list) or not isinstance(b, list) or len(a) != len(b):
        return False
    return all(x is None or y is None or x == y for x, y in zip(a[1:], b[1:], strict=True))
