"""Building JSON responses and mapping refusals to status codes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from starlette.responses import Response

from butterfly_config.errors import ConfigError, ConfigIssue, StaticChangeError
from butterfly_config.node.service import UpdateRefused


def json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """orjson-encoded JSON (non-str keys and numpy-free values as the service returns them)."""
    return Response(
        orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS),
        status_code=status,
        headers=dict(headers or {}),
        media_type="application/json",
    )


def error_response(
    status: int,
    message: str,
    issues: Iterable[ConfigIssue] = (),
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> Response:
    body: dict[str, Any] = {
        "success": False,
        "message": message,
        "errors": [i.as_dict() for i in issues],
    }
    body.update(extra)
    return json_response(body, status, headers)


# Statuses a refusal may carry (DESIGN 1.9); anything else is the service's bug
# and is reported as 500 rather than passed through.
REFUSAL_STATUSES = frozenset({400, 404, 409, 412, 503})


def refusal_response(exc: UpdateRefused) -> Response:
    status = exc.status if exc.status in REFUSAL_STATUSES else 500
    headers = {"Retry-After": "1"} if status == 503 else None
    return json_response(exc.as_dict(), status, headers)


def config_error_response(exc: ConfigError) -> Response:
    """A ConfigError raised by the service: refused (400), or 409 for static options."""
    issues = [i for i in exc.errors if i.severity == "error"] or [
        ConfigIssue(path="", message=exc.message, hint=exc.hint, rule="refused")
    ]
    if isinstance(exc, StaticChangeError):
        paths = sorted({i.path for i in issues if i.path})
        return error_response(409, exc.message, issues, restart_required=paths)
    return error_response(400, exc.message, issues)
