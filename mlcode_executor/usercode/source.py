"""Running the user's two text fields and mapping any exception to their line and column."""

from __future__ import annotations

import ast
import builtins
import traceback
from typing import Any

from mlcode_executor.usercode.errors import SandboxLimit, UserCodeError

SECTIONS = ("imports", "code")
FILENAMES = {"imports": "<model imports>", "code": "<model code>"}
SECTION_OF = {v: k for k, v in FILENAMES.items()}
MODEL_NAMESPACE = "model_code"


class Sources:
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
    exc: BaseException, sources: Sources, default_section: str | None = None
) -> UserCodeError:
    """Map an exception raised while running user code to the user's line and column."""
    if isinstance(exc, SyntaxError) and exc.filename in SECTION_OF:
        section = SECTION_OF[exc.filename]
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
        section = SECTION_OF.get(frame.filename)
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
    sources = Sources(imports, code)
    namespace: dict[str, Any] = {"__name__": MODEL_NAMESPACE, "__builtins__": builtins}
    for section in SECTIONS:
        text = sources.text[section]
        filename = FILENAMES[section]
        try:
            compiled = compile(text, filename, "exec", dont_inherit=True)
            # The original Kafka-ML's convention: model code whose last statement is the model
            # expression (it prepended ``model = ``). Split that expression off on the AST so
            # its value can become ``model`` when the code defines no ``model`` itself.
            last_expr = None
            if section == "code":
                tree = ast.parse(text, filename)
                if tree.body and isinstance(tree.body[-1], ast.Expr):
                    last_expr = compile(
                        ast.Expression(tree.body.pop().value), filename, "eval", dont_inherit=True
                    )
                    compiled = compile(tree, filename, "exec", dont_inherit=True)
        except SyntaxError as exc:
            raise error_from_exception(exc, sources) from None
        except ValueError as exc:  # e.g. source code string cannot contain null bytes
            raise sources.error(
                "SyntaxError", str(exc), None, section=section, kind="syntax"
            ) from None
        try:
            exec(compiled, namespace)  # noqa: S102 - running user code is this module's purpose
            if last_expr is not None:
                value = eval(last_expr, namespace)  # noqa: S307 - the user's own last line
                if "model" not in namespace and value is not None:  # print(...) is no model
                    namespace["model"] = value
        except (Exception, SystemExit, SandboxLimit) as exc:
            raise error_from_exception(exc, sources, section) from None
    namespace["__kafkaml_sources__"] = sources
    return namespace


def assign_lines(code: str) -> dict[str, int]:
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


def class_line_of(code: str, class_name: str) -> int | None:
    try:
        tree = ast.parse(code or "")
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            return node.lineno
    return None


def last_line(code: str) -> int | None:
    lines = (code or "").splitlines()
    for i in range(len(lines), 0, -1):
        if lines[i - 1].strip():
            return i
    return None


# --------------------------------------------------------------------------------------------
