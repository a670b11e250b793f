"""Distributed chains: does each model's ``to_upper`` fit the input of the model above it."""

from __future__ import annotations

from typing import Any


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
