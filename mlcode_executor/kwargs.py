"""Parse and check the training / evaluation keyword arguments of a deployment.

Pure Python, no framework import: the backend calls it directly, the training worker uses the
parsed dict. Never evaluates anything: the text is parsed with ``ast`` (or ``json``) and only
literal values are accepted.

    >>> parse_kwargs("epochs=5, shuffle=True, validation_split=0.1", "tensorflow", "fit")
    {'epochs': 5, 'shuffle': True, 'validation_split': 0.1}
    >>> parse_kwargs('{"epochs": 3}', "pytorch")
    {'epochs': 3}

A problem raises ``KwargsError`` with a message naming the offending key (``.key``).
"""

from __future__ import annotations

import ast
import json
from typing import Any

from mlcode_executor.frameworks import normalize_framework

MAX_TEXT = 10_000

# Keras 3 ``Model.fit`` / ``Model.evaluate`` keyword names (from inspect.signature; a test checks
# this list against the installed Keras), minus the ones the platform supplies itself.
KERAS_FIT = frozenset(
    {
        "batch_size",
        "epochs",
        "verbose",
        "validation_split",
        "shuffle",
        "class_weight",
        "initial_epoch",
        "steps_per_epoch",
        "validation_steps",
        "validation_batch_size",
        "validation_freq",
    }
)
KERAS_EVALUATE = frozenset({"batch_size", "verbose", "steps"})
# Supplied by the platform (data, callbacks, return format): never from the user.
PLATFORM_SUPPLIED = frozenset(
    {"x", "y", "validation_data", "callbacks", "sample_weight", "return_dict", "kwargs"}
)
# PyTorch / Ignite: DataLoader and Engine.run options the training worker understands.
PYTORCH_FIT = frozenset(
    {
        "epochs",
        "max_epochs",
        "batch_size",
        "shuffle",
        "drop_last",
        "epoch_length",
        "validation_split",
        "verbose",
    }
)
PYTORCH_EVALUATE = frozenset({"batch_size", "verbose"})

ALLOWED = {
    ("tensorflow", "fit"): KERAS_FIT,
    ("tensorflow", "evaluate"): KERAS_EVALUATE,
    ("pytorch", "fit"): PYTORCH_FIT,
    ("pytorch", "evaluate"): PYTORCH_EVALUATE,
}
_KINDS = {
    "fit": "fit",
    "train": "fit",
    "training": "fit",
    "evaluate": "evaluate",
    "evaluation": "evaluate",
    "eval": "evaluate",
}
_LITERAL_HELP = (
    "only literal values are allowed (numbers, strings, True/False/None, lists, "
    "tuples, dicts of those)"
)


class KwargsError(ValueError):
    """The kwargs text is not acceptable. ``key`` names the offending keyword, if any."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.key = key

    def to_dict(self) -> dict[str, Any]:
        return {"type": "KwargsError", "message": self.message, "key": self.key}


def _describe(node: ast.AST) -> str:
    names = {
        ast.Call: "a function call",
        ast.Name: "a variable name",
        ast.Attribute: "an attribute access",
        ast.Lambda: "a lambda",
        ast.Subscript: "a subscript",
        ast.BinOp: "an arithmetic expression",
        ast.Compare: "a comparison",
        ast.BoolOp: "a boolean expression",
        ast.JoinedStr: "an f-string",
        ast.ListComp: "a comprehension",
        ast.DictComp: "a comprehension",
        ast.SetComp: "a comprehension",
        ast.GeneratorExp: "a generator expression",
        ast.Starred: "a starred expression",
        ast.Set: "a set",
        ast.IfExp: "a conditional expression",
        ast.NamedExpr: "an assignment expression",
        ast.Await: "an await expression",
    }
    return names.get(type(node), type(node).__name__)


def _literal(node: ast.AST, key: str, depth: int = 0) -> Any:
    if depth > 20:
        raise KwargsError(f"`{key}`: the value is nested too deeply", key)
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool | int | float | str) or node.value is None:
            return node.value
        raise KwargsError(f"`{key}`: {_LITERAL_HELP}; got {type(node.value).__name__}", key)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        operand = node.operand
        if isinstance(operand, ast.Constant) and type(operand.value) in (int, float):
            return -operand.value if isinstance(node.op, ast.USub) else operand.value
    if isinstance(node, ast.List | ast.Tuple):
        values = [_literal(e, key, depth + 1) for e in node.elts]
        return values if isinstance(node, ast.List) else tuple(values)
    if isinstance(node, ast.Dict):
        out = {}
        for k, v in zip(node.keys, node.values, strict=True):
            if k is None:
                raise KwargsError(f"`{key}`: `**` unpacking is not allowed", key)
            kv = _literal(k, key, depth + 1)
            if isinstance(kv, list | dict):
                raise KwargsError(f"`{key}`: dict keys must be numbers or strings", key)
            out[kv] = _literal(v, key, depth + 1)
        return out
    raise KwargsError(f"`{key}`: {_LITERAL_HELP}; got {_describe(node)}", key)


def _parse_text(text: str) -> dict[str, Any]:
    stripped = text.strip()
    if not stripped:
        return {}
    if len(stripped) > MAX_TEXT:
        raise KwargsError(f"the arguments are too long ({len(stripped)} > {MAX_TEXT} characters)")
    if stripped.startswith("{"):
        try:
            value = json.loads(stripped)
        except ValueError:
            value = None
        if isinstance(value, dict):
            return value
        try:
            tree = ast.parse(stripped, mode="eval")
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            raise KwargsError(f"could not parse the arguments as a JSON object: {exc}") from None
        if not isinstance(tree.body, ast.Dict):
            raise KwargsError("the arguments must be a JSON object or `name=value, ...`")
        out: dict[str, Any] = {}
        for k, v in zip(tree.body.keys, tree.body.values, strict=True):
            if not (isinstance(k, ast.Constant) and isinstance(k.value, str)):
                raise KwargsError("argument names must be strings")
            out[k.value] = _literal(v, k.value)
        return out
    try:
        tree = ast.parse(f"f({stripped})", mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        where = ""
        if isinstance(exc, SyntaxError) and exc.offset:
            where = f" at column {max(1, exc.offset - 2)}"
        msg = exc.msg if isinstance(exc, SyntaxError) else str(exc)
        raise KwargsError(
            f"could not parse the arguments{where}: {msg}; write `name=value, ...` "
            f"(e.g. `epochs=5, shuffle=True`) or a JSON object"
        ) from None
    call = tree.body
    assert isinstance(call, ast.Call)
    if call.args:
        raise KwargsError(
            "positional arguments are not allowed: write `name=value, ...` (e.g. `epochs=5`)"
        )
    out = {}
    for kw in call.keywords:
        if kw.arg is None:
            raise KwargsError("`**` unpacking is not allowed")
        if kw.arg in out:
            raise KwargsError(f"`{kw.arg}` is given twice", kw.arg)
        out[kw.arg] = _literal(kw.value, kw.arg)
    return out


def _check_json_value(value: Any, key: str, depth: int = 0) -> None:
    if depth > 20:
        raise KwargsError(f"`{key}`: the value is nested too deeply", key)
    if value is None or isinstance(value, bool | int | float | str):
        return
    if isinstance(value, list | tuple):
        for v in value:
            _check_json_value(v, key, depth + 1)
        return
    if isinstance(value, dict):
        for v in value.values():
            _check_json_value(v, key, depth + 1)
        return
    raise KwargsError(f"`{key}`: {_LITERAL_HELP}; got {type(value).__name__}", key)


def _positive_int(value: Any, key: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise KwargsError(f"`{key}` must be a positive integer, got {value!r}", key)


def _check_values(args: dict[str, Any]) -> None:
    for key in (
        "epochs",
        "max_epochs",
        "batch_size",
        "steps_per_epoch",
        "validation_steps",
        "validation_batch_size",
        "validation_freq",
        "epoch_length",
        "steps",
    ):
        if key in args and args[key] is not None:
            _positive_int(args[key], key)
    if "epochs" in args and args["epochs"] is None:
        raise KwargsError("`epochs` must be a positive integer, got None", "epochs")
    if "initial_epoch" in args:
        v = args["initial_epoch"]
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise KwargsError(
                f"`initial_epoch` must be a non-negative integer, got {v!r}", "initial_epoch"
            )
    if "validation_split" in args:
        v = args["validation_split"]
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v < 1:
            raise KwargsError(
                f"`validation_split` must be a number in [0, 1), got {v!r}", "validation_split"
            )
    for key in ("shuffle", "drop_last"):
        if key in args and not isinstance(args[key], bool):
            if not (key == "shuffle" and args[key] == "batch"):
                raise KwargsError(f"`{key}` must be True or False, got {args[key]!r}", key)
    if "verbose" in args:
        v = args["verbose"]
        if not (
            v == "auto"
            or (isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 2)
            or isinstance(v, bool)
        ):
            raise KwargsError(f"`verbose` must be 0, 1, 2 or 'auto', got {v!r}", "verbose")
    if "class_weight" in args and args["class_weight"] is not None:
        cw = args["class_weight"]
        if not isinstance(cw, dict) or not all(
            isinstance(w, int | float) and not isinstance(w, bool) for w in cw.values()
        ):
            raise KwargsError("`class_weight` must be a dict {class: weight}", "class_weight")
    if "epochs" in args and "max_epochs" in args:
        raise KwargsError("give either `epochs` or `max_epochs`, not both", "max_epochs")


def parse_kwargs(
    text: str | dict[str, Any] | None, framework: str = "tensorflow", kind: str = "fit"
) -> dict[str, Any]:
    """Parse ``text`` (a JSON object or ``name=value, ...``) and check it for ``framework``'s
    ``kind`` ("fit" or "evaluate"). Returns the keyword dict; raises ``KwargsError``."""
    try:
        fw = normalize_framework(framework)
    except ValueError as exc:
        raise KwargsError(str(exc)) from None
    kd = _KINDS.get(str(kind).strip().lower())
    if kd is None:
        raise KwargsError(f"unknown kind {kind!r}: use 'fit' or 'evaluate'")
    if text is None:
        args: dict[str, Any] = {}
    elif isinstance(text, dict):
        args = dict(text)
    elif isinstance(text, str):
        args = _parse_text(text)
    else:
        raise KwargsError(f"the arguments must be text or an object, got {type(text).__name__}")
    allowed = ALLOWED[(fw, kd)]
    what = {"tensorflow": "Keras Model", "pytorch": "PyTorch/Ignite"}[fw]
    fn = "fit" if kd == "fit" else "evaluate"
    for key, value in args.items():
        if not isinstance(key, str) or not key.isidentifier():
            raise KwargsError(f"{key!r} is not a valid argument name", str(key))
        if key.startswith("__"):
            raise KwargsError(f"`{key}` is not allowed", key)
        if key in PLATFORM_SUPPLIED:
            raise KwargsError(
                f"`{key}` is supplied by the platform and cannot be set in the {fn} arguments",
                key,
            )
        if key not in allowed:
            raise KwargsError(
                f"`{key}` is not an argument of {what} {fn}(); allowed: "
                f"{', '.join(sorted(allowed))}",
                key,
            )
        _check_json_value(value, key)
    _check_values(args)
    return args
