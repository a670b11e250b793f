"""PyTorch/Ignite models: the loss_fn/optimizer/metrics contract, and the description from one
forward pass on a zero batch."""

from __future__ import annotations

from typing import Any

from mlcode_executor.usercode.errors import SandboxLimit
from mlcode_executor.usercode.shapes import parse_input_shape
from mlcode_executor.usercode.source import (
    FILENAMES,
    Sources,
    assign_lines,
    class_line_of,
    error_from_exception,
)

PYTORCH_METHODS = ("loss_fn", "optimizer", "metrics")
# Batch size used for the PyTorch shape-inference forward pass (2: BatchNorm needs more than one).
PROBE_BATCH = 2


def is_torch_module(obj: Any) -> bool:
    import torch.nn as nn

    return isinstance(obj, nn.Module)


def method_line(method: Any, fallback: int | None) -> int | None:
    code = getattr(getattr(method, "__func__", method), "__code__", None)
    if code is not None and code.co_filename == FILENAMES["code"]:
        return code.co_firstlineno
    return fallback


def check_contract(model: Any, sources: Sources) -> dict[str, Any]:
    import torch

    code = sources.text["code"]
    cls = type(model)
    class_line = class_line_of(code, cls.__name__) or assign_lines(code).get("model")
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
            method_line(cls.loss_fn, class_line),
        )
    optimizer = call("optimizer")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise sources.error(
            "InvalidOptimizer",
            f"{cls.__name__}.optimizer() must return a torch.optim.Optimizer "
            f"(e.g. torch.optim.Adam(self.parameters())), got {type(optimizer).__name__}",
            method_line(cls.optimizer, class_line),
        )
    metrics = call("metrics")
    metrics_line = method_line(cls.metrics, class_line)
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


def describe(model: Any, shapes: list[tuple[int, ...]] | None, sources: Sources) -> dict[str, Any]:
    import torch

    code = sources.text["code"]
    cls = type(model)
    class_line = class_line_of(code, cls.__name__) or assign_lines(code).get("model")
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
            shapes = parse_input_shape(declared)
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
                method_line(getattr(cls, "forward", None), class_line),
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
