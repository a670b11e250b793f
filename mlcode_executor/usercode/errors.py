"""Errors of user code, located in the user's own text, and the limits the sandbox raises."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
