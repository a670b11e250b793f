"""Input shapes as users write them: one sample, no batch dimension."""

from __future__ import annotations

from typing import Any


def shape_list(shape: Any) -> list[int | None]:
    return [None if d is None else int(d) for d in tuple(shape)]


def parse_input_shape(value: Any) -> list[tuple[int, ...]] | None:
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
