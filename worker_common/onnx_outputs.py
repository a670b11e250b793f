"""Whether a model's outputs are probabilities or logits, read from its ONNX graph.

The last operation producing an output decides: ``Softmax`` or ``Sigmoid`` (seen through
shape-only operations such as ``Reshape`` or ``Identity``) means probabilities; anything else
means logits (e.g. a PyTorch model ending in ``nn.Linear``), which need a softmax before they
can be read as a confidence. The graph is read straight from the protobuf wire format, so the
inference image needs no ``onnx`` package; initializers (the weights) are skipped, not parsed.
"""

from __future__ import annotations

from pathlib import Path

PROBABILITIES, LOGITS = "probabilities", "logits"
PROBABILITY_OPS = frozenset({"Softmax", "Sigmoid"})
# Operations that change no value, only its shape, type or name.
PASS_THROUGH = frozenset(
    {"Identity", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Cast", "Dropout", "Transpose"}
)
# ModelProto.graph; GraphProto.node / .output; NodeProto.input / .output / .op_type;
# ValueInfoProto.name (onnx.proto field numbers)
_MODEL_GRAPH, _GRAPH_NODE, _GRAPH_OUTPUT = 7, 1, 12
_NODE_INPUT, _NODE_OUTPUT, _NODE_OP_TYPE, _VALUE_NAME = 1, 2, 4, 1


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _fields(buf: bytes):
    """(field number, bytes) of every length-delimited field of one message."""
    pos, end = 0, len(buf)
    while pos < end:
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, pos = _varint(buf, pos)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            size, pos = _varint(buf, pos)
            yield number, buf[pos : pos + size]
            pos += size
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")


def _graph(model: bytes) -> tuple[dict[str, tuple[str, list[str]]], list[str]]:
    """Which op (and inputs) produces each tensor, and the graph's output names."""
    graph = next((value for number, value in _fields(model) if number == _MODEL_GRAPH), b"")
    producers: dict[str, tuple[str, list[str]]] = {}
    outputs: list[str] = []
    for number, value in _fields(graph):
        if number == _GRAPH_NODE:
            inputs, produced, op_type = [], [], ""
            for field, data in _fields(value):
                if field == _NODE_INPUT:
                    inputs.append(data.decode())
                elif field == _NODE_OUTPUT:
                    produced.append(data.decode())
                elif field == _NODE_OP_TYPE:
                    op_type = data.decode()
            for name in produced:
                producers[name] = (op_type, inputs)
        elif number == _GRAPH_OUTPUT:
            names = [data.decode() for field, data in _fields(value) if field == _VALUE_NAME]
            outputs.extend(names[:1])
    return producers, outputs


def output_kinds_from_bytes(model: bytes) -> list[str]:
    """``"probabilities"`` or ``"logits"`` for each output of a serialized ONNX model."""
    producers, outputs = _graph(model)
    kinds = []
    for name in outputs:
        seen = set()
        op, inputs = producers.get(name, ("", []))
        while op in PASS_THROUGH and inputs and name not in seen:
            seen.add(name)
            name = inputs[0]
            op, inputs = producers.get(name, ("", []))
        kinds.append(PROBABILITIES if op in PROBABILITY_OPS else LOGITS)
    return kinds


def prediction_output_kind(path: str | Path, distributed: bool | None = None) -> str | None:
    """The kind of the output a confidence is read from: the only output, or a distributed
    sub-model's second one (its first goes to the upper model). None when unreadable."""
    try:
        kinds = output_kinds_from_bytes(Path(path).read_bytes())
    except (OSError, ValueError, IndexError, UnicodeDecodeError):
        return None
    if not kinds:
        return None
    index = 1 if (distributed if distributed is not None else len(kinds) == 2) else 0
    return kinds[min(index, len(kinds) - 1)]
