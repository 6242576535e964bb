"""Rules on [observability]: where log files go, and that the tracing endpoint is a URL."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

from butterfly_config.errors import ConfigIssue
from butterfly_config.schema.root import ConfigModel

from ..base import rule
from ..context import ValidationContext
from ..files import describe, writable_file_problem

TRACING_SCHEMES = {
    "jaeger": ("http", "https"),
    "zipkin": ("http", "https"),
    "otlp": ("http", "https", "grpc", "grpcs"),
}


@rule("observability.log-file")
def log_file_writable(config: ConfigModel, ctx: ValidationContext) -> Iterator[ConfigIssue]:
    """With output = "file", the node must be able to create and append to file_path.

    The node creates missing directories itself, so a missing directory is
    fine as long as its nearest existing ancestor is writable.
    """
    logging = config.observability.logging
    if logging.output != "file" or not ctx.check_paths:
        return
    resolved = ctx.resolve_path(logging.file_path)
    problem = writable_file_problem(resolved)
    if problem is None:
        return
    yield ConfigIssue(
        path="observability.logging.file_path",
        message=f"log file {describe(logging.file_path, resolved)} {problem}",
        hint=(
            "point file_path at a location the node may write, create the directory with "
            'the right owner, or set observability.logging.output = "stderr"'
        ),
        severity=ctx.machine_severity(config),
    )


@rule("observability.tracing-endpoint")
def tracing_endpoint_is_url(config: ConfigModel, ctx: ValidationContext) -> Iterator[ConfigIssue]:
    """With tracing on, the endpoint must be a URL the exporter can send to."""
    tracing = config.observability.tracing
    if not tracing.enabled:
        return
    schemes = TRACING_SCHEMES[tracing.exporter]
    example = "http://localhost:14268/api/traces"
    try:
        parts = urlsplit(tracing.endpoint)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        problem: str | None = f"is not a valid URL ({exc})"
    else:
        if parts.scheme not in schemes:
            problem = f"does not start with {' or '.join(s + '://' for s in schemes)}"
        elif not parts.hostname:
            problem = "names no host"
        else:
            problem = None
    if problem is not None:
        yield ConfigIssue(
            path="observability.tracing.endpoint",
            message=f"'{tracing.endpoint}' {problem}, as the {tracing.exporter} exporter needs",
            hint=(
                f"use a full URL such as '{example}', "
                "or set observability.tracing.enabled = false"
            ),
        )


RULES = (log_file_writable, tracing_endpoint_is_url)
