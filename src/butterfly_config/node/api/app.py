"""The FastAPI application of a node (DESIGN 1.9).

Handlers are thin: authenticate and authorize (auth.AccessGate), parse the
body (bodies.py), call the `ConfigService`, shape the answer. Every handler is
`async def` so it runs on the node's event loop, between the runtime's own
steps: a handler reading revision, hash and document sees one consistent
snapshot, never a half-applied change.

Watch semantics: `GET /api/v1/config/watch?after=REV&timeout=S` answers 200
`{revision, cluster_hash, changed}` as soon as a revision > REV is committed
(`changed: true`), or after S seconds with the current revision and
`changed: false`. It never answers 204, so a client always gets a body.
Without `after`, it waits for the next revision after the current one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from starlette.responses import Response

from butterfly_config.errors import ConfigError, ConfigIssue
from butterfly_config.node.api import models
from butterfly_config.node.api.auth import AccessGate, AccessRefused, Permission
from butterfly_config.node.api.bodies import (
    BadBody,
    UnparsableDocument,
    parse_document,
    parse_operations,
)
from butterfly_config.node.api.guard import InternalErrorGuard
from butterfly_config.node.api.limits import BodySizeLimit
from butterfly_config.node.api.negotiation import etag_matches, if_match_tags, prefers_toml
from butterfly_config.node.api.responses import (
    config_error_response,
    error_response,
    json_response,
    refusal_response,
)
from butterfly_config.node.api.settings import ApiSettings
from butterfly_config.node.metrics import NodeMetrics
from butterfly_config.node.service import ConfigService, Identity, UpdateRefused

API = "/api/v1"

_REFUSALS: dict[int | str, dict[str, Any]] = {
    400: {"model": models.ErrorResponse, "description": "malformed or invalid"},
    401: {"model": models.ErrorResponse, "description": "unauthenticated"},
    403: {"model": models.ErrorResponse, "description": "not permitted"},
    413: {"model": models.ErrorResponse, "description": "request body too large"},
    429: {"model": models.ErrorResponse, "description": "client address locked out"},
}
_UPDATE_REFUSALS: dict[int | str, dict[str, Any]] = {
    **_REFUSALS,
    409: {"model": models.ErrorResponse,
          "description": "update in progress, or a static option changed (restart required)"},
    412: {"model": models.ErrorResponse,
          "description": "If-Match: the configuration changed since it was read"},
    503: {"model": models.ErrorResponse,
          "description": "no quorum or consensus timeout; nothing was applied"},
}


def _need(permission: Permission) -> Callable[[Request], Awaitable[Identity]]:
    """A dependency admitting callers that hold `permission` (see auth.AccessGate)."""

    async def admitted(request: Request) -> Identity:
        gate: AccessGate = request.app.state.gate
        return await gate.admit(request, permission)

    return admitted


Reader = Annotated[Identity, Depends(_need("config:read"))]
Writer = Annotated[Identity, Depends(_need("config:write"))]
RollbackRole = Annotated[Identity, Depends(_need("config:rollback"))]
Admin = Annotated[Identity, Depends(_need("cluster:admin"))]
IfMatchHeader = Annotated[str | None, Header(
    alias="If-Match",
    description="the ETag of GET /api/v1/config this change starts from (its cluster_hash, "
                "quoted): if the configuration is no longer that one, 412 and nothing applied")]


async def _unless_disconnected(
    request: Request, waiting: Coroutine[Any, Any, int], check_every: float = 1.0
) -> int | None:
    """Await `waiting`, but give up (None) once the client has gone away.

    An abandoned long-poll would otherwise hold its task for up to the watch
    timeout; checking the connection every second frees it early.
    """
    task = asyncio.ensure_future(waiting)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=check_every)
            if done:
                return task.result()
            if await request.is_disconnected():
                return None
    finally:
        if not task.done():
            task.cancel()


def _package_version() -> str:
    try:
        return version("butterfly-config")
    except PackageNotFoundError:
        return "0"


def create_app(
    service: ConfigService, settings: ApiSettings, metrics: NodeMetrics | None = None
) -> FastAPI:
    """The node's API over `service`, secured per `settings`."""
    node_metrics = metrics if metrics is not None else NodeMetrics()
    gate = AccessGate(settings, service, node_metrics)
    app = FastAPI(
        title="Butterfly configuration API",
        version=_package_version(),
        description="Read, validate and change the configuration of a Butterfly cluster.",
        docs_url=None,
        redoc_url=None,
    )
    # add_middleware prepends: the guard is outermost, the size limit next.
    app.add_middleware(BodySizeLimit, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(InternalErrorGuard)
    _install_error_handlers(app)
    app.state.service = service
    app.state.metrics = node_metrics
    app.state.gate = gate

    def snapshot_headers() -> dict[str, str]:
        return {
            "ETag": f'"{service.cluster_hash}"',
            "X-Config-Revision": str(service.revision),
            "Cache-Control": "no-cache",
        }

    @app.get(
        f"{API}/config",
        summary="The node's effective configuration (secrets redacted)",
        responses={
            **_REFUSALS,
            200: {"content": {"application/json": {"schema": models.JSON_DOCUMENT_SCHEMA},
                              "application/toml": {"schema": models.TOML_DOCUMENT_SCHEMA}},
                  "description": "the configuration; ETag = cluster_hash"},
            304: {"description": "If-None-Match matches the current cluster_hash"},
        },
    )
    async def get_config(request: Request, _who: Reader) -> Response:
        headers = snapshot_headers()
        if etag_matches(request.headers.get("if-none-match"), headers["ETag"]):
            return Response(status_code=304, headers=headers)
        if prefers_toml(request.headers.get("accept")):
            return Response(service.current_toml(), media_type="application/toml",
                            headers=headers)
        return json_response(service.current_document(), headers=headers)

    @app.post(
        f"{API}/config",
        summary="Propose a full cluster configuration",
        response_model=None,
        responses={**_UPDATE_REFUSALS, 200: {"model": models.UpdateResponse}},
        openapi_extra=models.document_body("the whole configuration, TOML or JSON"),
    )
    async def post_config(request: Request, who: Writer, if_match: IfMatchHeader = None
                          ) -> Response:
        document = parse_document(await request.body(), request.headers.get("content-type"))
        result = await service.update_document(document, identity=who, action="update",
                                               if_match=if_match_tags(if_match))
        return json_response(result.as_dict())

    @app.patch(
        f"{API}/config",
        summary="Change some options: set, delete (back to default) or merge a table",
        response_model=None,
        responses={**_UPDATE_REFUSALS, 200: {"model": models.UpdateResponse}},
        openapi_extra=models.patch_body(),
    )
    async def patch_config(request: Request, who: Writer, if_match: IfMatchHeader = None
                           ) -> Response:
        operations = parse_operations(await request.body(), request.headers.get("content-type"))
        result = await service.patch(operations, identity=who, if_match=if_match_tags(if_match))
        return json_response(result.as_dict())

    @app.post(
        f"{API}/config/validate",
        summary="Validate a configuration without applying it",
        description="A document that does not parse (TOML or JSON syntax, not UTF-8, not a "
                    "table) is a validation result too: 200 with `valid: false` and the parse "
                    "error (rule `syntax`, with line and column where known). An empty body "
                    "or an unsupported Content-Type is a malformed request (400).",
        response_model=None,
        responses={**_REFUSALS, 200: {"model": models.ValidationResponse}},
        openapi_extra=models.document_body("the configuration to check, TOML or JSON"),
    )
    async def validate_config(request: Request, _who: Reader) -> Response:
        try:
            document = parse_document(await request.body(), request.headers.get("content-type"))
        except UnparsableDocument as exc:  # a document that does not parse is invalid
            return json_response({"valid": False, "errors": [i.as_dict() for i in exc.issues],
                                  "warnings": []})
        report = service.validate_document(document)
        return json_response(
            {
                "valid": report.valid,
                "errors": [i.as_dict() for i in report.errors],
                "warnings": [i.as_dict() for i in report.warnings],
            }
        )

    @app.get(
        f"{API}/config/history",
        summary="Committed cluster revisions (or this node's local changes), newest first",
        response_model=None,
        responses={**_REFUSALS, 200: {"description": "a list of history entries"}},
    )
    async def get_history(
        _who: Reader,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 20,
        scope: Literal["cluster", "local"] = "cluster",
    ) -> Response:
        return json_response(service.history(limit, scope))

    @app.post(
        f"{API}/config/rollback/{{version}}",
        summary="Commit a new revision equal to an earlier one",
        response_model=None,
        responses={**_UPDATE_REFUSALS, 200: {"model": models.UpdateResponse}},
    )
    async def rollback(
        who: RollbackRole,
        version: Annotated[str, Path(min_length=1, max_length=200,
                                     description="revision number, cluster_hash prefix "
                                                 "(>= 4 hex digits) or config_version (refused "
                                                 "when revisions of different contents carry "
                                                 "it)")],
        if_match: IfMatchHeader = None,
    ) -> Response:
        result = await service.rollback(version, identity=who, if_match=if_match_tags(if_match))
        return json_response(result.as_dict())

    @app.post(
        f"{API}/config/sync",
        summary="Catch up from peers now",
        response_model=None,
        responses={**_UPDATE_REFUSALS, 200: {"description": "what the catch-up did"}},
    )
    async def sync(_who: Admin) -> Response:
        return json_response(await service.sync())

    @app.get(
        f"{API}/config/watch",
        summary="Long-poll until a revision newer than `after` is committed",
        response_model=None,
        responses={**_REFUSALS, 200: {"model": models.WatchResponse}},
    )
    async def watch(
        request: Request,
        _who: Reader,
        after: Annotated[int | None, Query(ge=-1)] = None,
        timeout: Annotated[float, Query(gt=0)] = settings.watch_default_timeout_secs,
    ) -> Response:
        baseline = service.revision if after is None else after
        wait = min(timeout, settings.watch_max_timeout_secs)
        revision = await _unless_disconnected(request, service.wait_for_revision(baseline, wait))
        if revision is None:
            return Response(status_code=204)  # nobody is listening any more
        return json_response(
            {"revision": revision, "cluster_hash": service.cluster_hash,
             "changed": revision > baseline, "applied_at": service.applied_at},
            headers={"X-Config-Revision": str(revision)},
        )

    @app.get(
        f"{API}/cluster/status",
        summary="Members, view, coordinator, each node's revision and hash",
        response_model=None,
        responses={**_REFUSALS, 200: {"model": models.ClusterStatus}},
    )
    async def cluster_status(_who: Reader) -> Response:
        return json_response(service.cluster_status())

    @app.post(
        f"{API}/cluster/members/{{node_id}}/reputation/reset",
        summary="Lift isolation: this node's view of a member's reputation starts afresh",
        description="Reputation is judged per node: ask every node to lift an isolation "
                    "cluster-wide (`butterfly cluster reset-reputation NODE_ID --all`).",
        response_model=None,
        responses={**_REFUSALS, 200: {"model": models.ReputationReset},
                   404: {"model": models.ErrorResponse, "description": "no such member"},
                   503: {"model": models.ErrorResponse,
                         "description": "the node is not connected to its cluster yet, "
                                        "or is stopping"}},
    )
    async def reset_reputation(
        who: Admin,
        node_id: Annotated[str, Path(min_length=1, max_length=200, description="the member")],
    ) -> Response:
        return json_response(service.reset_reputation(node_id, identity=who))

    @app.get("/healthz", summary="Liveness", response_model=models.HealthResponse)
    async def healthz() -> Response:
        return json_response({"status": "ok"})

    @app.get(
        "/readyz",
        summary="Readiness: 503 until the node serves a committed configuration",
        response_model=models.ReadyResponse,
        responses={503: {"model": models.ReadyResponse}},
    )
    async def readyz() -> Response:
        ready, reason = service.is_ready()
        return json_response({"ready": ready, "reason": reason}, 200 if ready else 503)

    @app.get(
        "/metrics",
        summary="Prometheus metrics",
        response_class=Response,
        responses={200: {"content": {"text/plain": {}}}},
    )
    async def prometheus() -> Response:
        body, content_type = node_metrics.render()
        return Response(body, media_type=content_type)

    return app


def _install_error_handlers(app: FastAPI) -> None:
    async def on_access_refused(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, AccessRefused)
        return error_response(exc.status, exc.message, headers=exc.headers)

    async def on_bad_body(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, BadBody)
        return error_response(400, exc.message, exc.issues)

    async def on_refused(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, UpdateRefused)
        return refusal_response(exc)

    async def on_config_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ConfigError)
        return config_error_response(exc)

    async def on_invalid_request(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        issues = [
            ConfigIssue(
                path=".".join(str(part) for part in err.get("loc", ())),
                message=str(err.get("msg", "invalid")),
                rule="request",
            )
            for err in exc.errors()
        ]
        return error_response(400, "malformed request", issues)

    app.add_exception_handler(AccessRefused, on_access_refused)
    app.add_exception_handler(BadBody, on_bad_body)
    app.add_exception_handler(UpdateRefused, on_refused)
    app.add_exception_handler(ConfigError, on_config_error)
    app.add_exception_handler(RequestValidationError, on_invalid_request)
