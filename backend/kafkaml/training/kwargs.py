"""Deployment keyword arguments: entered as a JSON object or as ``epochs=5, shuffle=True``,
parsed by the executor package's literal-only parser (never ``eval``)."""

from __future__ import annotations

from kafkaml.errors import ApplicationError


def parse_deployment_kwargs(value, *, field: str, frameworks: set[str], kind: str) -> dict:
    """Checked against every framework the configuration uses."""
    from mlcode_executor.kwargs import KwargsError, parse_kwargs

    parsed: dict = {}
    try:
        for framework in sorted(frameworks) or ["tensorflow"]:
            parsed = parse_kwargs(value, framework, kind)
    except KwargsError as exc:
        raise ApplicationError(f"Invalid {field}: {exc}", errors={field: [str(exc)]}) from exc
    return parsed
