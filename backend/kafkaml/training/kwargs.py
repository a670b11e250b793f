"""Deployment keyword arguments: entered as a JSON object or as ``epochs=5, shuffle=True``,
parsed by the executor package's literal-only parser (never ``eval``)."""

from __future__ import annotations

from kafkaml.errors import ApplicationError


def parse_deployment_kwargs(value, *, field: str, frameworks: set[str], kind: str) -> dict:
    from mlcode_executor.kwargs import KwargsError, check_kwargs, parse_kwargs

    try:
        parsed = parse_kwargs(value)
        for framework in sorted(frameworks):
            check_kwargs(parsed, framework=framework, kind=kind)
    except KwargsError as exc:
        raise ApplicationError(f"Invalid {field}: {exc}", errors={field: [str(exc)]}) from exc
    return parsed
