"""Small artifacts in the contracts.md layout, for tests, the benchmark and demos.

The models are feed-forward networks with fixed random weights, written directly as ONNX
graphs (``onnx.helper``, no exporter), and, on request, the same weights as TorchScript and
Keras, so every runtime can be checked against :func:`mlp_reference`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class MLP:
    """``softmax(relu(x/255 @ w1 + b1) @ w2 + b2)`` over the flattened input."""

    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray
    input_shape: tuple[int, ...]
    scale: float = 1.0 / 255.0

    @classmethod
    def random(cls, input_shape=(28, 28), hidden=128, classes=10, seed=0) -> MLP:
        rng = np.random.default_rng(seed)
        n_in = int(np.prod(input_shape))
        return cls(
            w1=(rng.standard_normal((n_in, hidden)) * np.sqrt(2.0 / n_in)).astype(np.float32),
            b1=(rng.standard_normal(hidden) * 0.1).astype(np.float32),
            w2=(rng.standard_normal((hidden, classes)) * np.sqrt(2.0 / hidden) * 3).astype(
                np.float32
            ),
            b2=(rng.standard_normal(classes) * 0.1).astype(np.float32),
            input_shape=tuple(input_shape),
        )

    def hidden(self, x: np.ndarray) -> np.ndarray:
        flat = np.asarray(x, dtype=np.float32).reshape(len(x), -1) * np.float32(self.scale)
        return np.maximum(flat @ self.w1 + self.b1, 0)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return softmax(self.hidden(x) @ self.w2 + self.b2)


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def mlp_reference(mlp: MLP, x: np.ndarray) -> np.ndarray:
    return mlp(x)


# ---------------------------------------------------------------------------------------------
# ONNX graphs
# ---------------------------------------------------------------------------------------------


def _onnx_model(nodes, inputs, outputs, inits):
    import onnx
    from onnx import helper

    graph = helper.make_graph(nodes, "kafkaml", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def mlp_onnx(mlp: MLP, distributed: bool = False):
    """The MLP as ONNX. ``distributed``: outputs ``(to_upper=hidden, output)``."""
    from onnx import TensorProto, helper, numpy_helper

    inits = [
        numpy_helper.from_array(np.array([-1, mlp.w1.shape[0]], np.int64), "flat_shape"),
        numpy_helper.from_array(np.array(mlp.scale, np.float32), "scale"),
        numpy_helper.from_array(mlp.w1, "w1"),
        numpy_helper.from_array(mlp.b1, "b1"),
        numpy_helper.from_array(mlp.w2, "w2"),
        numpy_helper.from_array(mlp.b2, "b2"),
    ]
    nodes = [
        helper.make_node("Reshape", ["input", "flat_shape"], ["flat"]),
        helper.make_node("Mul", ["flat", "scale"], ["scaled"]),
        helper.make_node("Gemm", ["scaled", "w1", "b1"], ["pre"]),
        helper.make_node("Relu", ["pre"], ["hidden"]),
        helper.make_node("Gemm", ["hidden", "w2", "b2"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["output"], axis=1),
    ]
    inputs = [helper.make_tensor_value_info("input", TensorProto.FLOAT, [None, *mlp.input_shape])]
    classes = mlp.w2.shape[1]
    outputs = [helper.make_tensor_value_info("output", TensorProto.FLOAT, [None, classes])]
    if distributed:
        hidden = mlp.w1.shape[1]
        nodes.append(helper.make_node("Identity", ["hidden"], ["to_upper"]))
        outputs.insert(
            0, helper.make_tensor_value_info("to_upper", TensorProto.FLOAT, [None, hidden])
        )
    return _onnx_model(nodes, inputs, outputs, inits)


def failing_onnx(input_shape=(4,)):
    """A model whose prediction always fails at run time (Reshape to an impossible shape)."""
    from onnx import TensorProto, helper, numpy_helper

    inits = [numpy_helper.from_array(np.array([-1, 7919], np.int64), "bad")]
    nodes = [helper.make_node("Reshape", ["input", "bad"], ["output"])]
    inputs = [helper.make_tensor_value_info("input", TensorProto.FLOAT, [None, *input_shape])]
    outputs = [helper.make_tensor_value_info("output", TensorProto.FLOAT, [None, 7919])]
    return _onnx_model(nodes, inputs, outputs, inits)


# ---------------------------------------------------------------------------------------------
# artifact directories
# ---------------------------------------------------------------------------------------------


def write_metadata(
    path: Path,
    *,
    framework: str,
    version: int,
    input_shape,
    outputs: list[tuple[str, list]],
    distributed: bool = False,
    files: dict | None = None,
    input_format: str = "RAW",
    input_config: dict | None = None,
) -> None:
    meta = {
        "framework": framework,
        "framework_version": "test",
        "format_version": 1,
        "version": version,
        "inputs": [{"name": "input", "shape": [None, *input_shape], "dtype": "float32"}],
        "outputs": [{"name": n, "shape": s, "dtype": "float32"} for n, s in outputs],
        "distributed": distributed,
        "input_format": input_format,
        "input_config": input_config or {},
        "files": files or {"onnx": "model.onnx"},
    }
    (path / "metadata.json").write_text(json.dumps(meta, indent=2))


def raw_config(input_shape=(28, 28), data_type="uint8") -> dict:
    return {
        "data_type": data_type,
        "label_type": "uint8",
        "data_reshape": " ".join(str(d) for d in input_shape),
        "label_reshape": "",
    }


def write_mlp_artifact(
    path: str | Path,
    mlp: MLP,
    *,
    version: int = 1,
    distributed: bool = False,
    torchscript: bool = False,
    keras: bool = False,
    onnx_file: bool = True,
    data_type: str = "uint8",
) -> Path:
    """An artifact directory holding the MLP (ONNX, and TorchScript / Keras on request)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    files: dict = {}
    framework = "pytorch"
    if onnx_file:
        (path / "model.onnx").write_bytes(mlp_onnx(mlp, distributed).SerializeToString())
        files["onnx"] = "model.onnx"
    if torchscript:
        write_torchscript(path / "model.pt", mlp, distributed)
        files["native"] = "model.pt"
    if keras:
        write_keras(path / "model.keras", mlp, distributed)
        files["native"] = "model.keras"
        framework = "tensorflow"
    outputs = [("output", [None, mlp.w2.shape[1]])]
    if distributed:
        outputs.insert(0, ("to_upper", [None, mlp.w1.shape[1]]))
    write_metadata(
        path,
        framework=framework,
        version=version,
        input_shape=mlp.input_shape,
        outputs=outputs,
        distributed=distributed,
        files=files,
        input_config=raw_config(mlp.input_shape, data_type),
    )
    return path


def write_torchscript(path: Path, mlp: MLP, distributed: bool = False) -> None:
    import torch

    l1 = torch.nn.Linear(mlp.w1.shape[0], mlp.w1.shape[1])
    l2 = torch.nn.Linear(mlp.w2.shape[0], mlp.w2.shape[1])
    with torch.no_grad():
        l1.weight.copy_(torch.from_numpy(mlp.w1.T.copy()))
        l1.bias.copy_(torch.from_numpy(mlp.b1))
        l2.weight.copy_(torch.from_numpy(mlp.w2.T.copy()))
        l2.bias.copy_(torch.from_numpy(mlp.b2))
    scale = float(mlp.scale)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.l1, self.l2 = l1, l2

        def forward(self, x):
            h = torch.relu(self.l1(torch.flatten(x, 1) * scale))
            out = torch.softmax(self.l2(h), dim=1)
            return (h, out) if distributed else out

    example = torch.zeros((2, *mlp.input_shape), dtype=torch.float32)
    torch.jit.trace(Net().eval(), example).save(str(path))


def write_keras(path: Path, mlp: MLP, distributed: bool = False) -> None:
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    inp = keras.Input(shape=mlp.input_shape, name="input")
    x = keras.layers.Flatten()(inp)
    x = keras.layers.Rescaling(mlp.scale)(x)
    dense1 = keras.layers.Dense(mlp.w1.shape[1], activation="relu")
    h = dense1(x)
    dense2 = keras.layers.Dense(mlp.w2.shape[1], activation="softmax")
    out = dense2(h)
    model = keras.Model(inp, [h, out] if distributed else out)
    dense1.set_weights([mlp.w1, mlp.b1])
    dense2.set_weights([mlp.w2, mlp.b2])
    model.save(str(path))
