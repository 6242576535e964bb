"""Last line of defence: an unexpected exception becomes a generic 500.

The body names no configuration value and no secret; the log line names the
request's method and path, the exception's type and the code locations of the
traceback, but not the exception's message, which may quote a value.
"""

from __future__ import annotations

import logging
import traceback

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("butterfly_config.api")

INTERNAL_ERROR_BODY = orjson.dumps(
    {
        "success": False,
        "message": "internal error: the request was not completed; the node's log has details",
        "errors": [],
    }
)


def describe_unexpected(exc: BaseException) -> str:
    """Type plus traceback locations, without the message (which may hold values)."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = " <- ".join(f"{f.filename}:{f.lineno} in {f.name}" for f in reversed(frames))
    return f"{type(exc).__name__} at {where}"


class InternalErrorGuard:
    """ASGI middleware turning an unhandled exception into a logged, generic 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            log.error(
                "unexpected error handling %s %s: %s",
                scope.get("method"),
                scope.get("path"),
                describe_unexpected(exc),
            )
            if started:
                return
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(INTERNAL_ERROR_BODY)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": INTERNAL_ERROR_BODY})
