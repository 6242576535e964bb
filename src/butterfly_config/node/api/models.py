"""Shapes of request and response bodies, for the OpenAPI document.

Handlers parse bodies themselves (see bodies.py) and build responses from the
service's dicts; these models only describe the contract to clients and
tools reading /openapi.json.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class Issue(BaseModel):
    path: str
    message: str
    hint: str = ""
    rule: str = ""
    severity: Literal["error", "warning"] = "error"
    file: str | None = Field(None, description="the file it is in, where there is one")
    line: int | None = Field(None, description="1-based line, where known")
    column: int | None = Field(None, description="1-based column, where known")


class ErrorResponse(BaseModel):
    success: Literal[False] = False
    message: str
    errors: list[Issue] = Field(default_factory=list)
    restart_required: list[str] | None = None
    request_id: str | None = Field(
        default=None, description="on a 503 whose update may still commit: its request id, "
                                  "as the history will list it if it does")


class UpdateResponse(BaseModel):
    success: Literal[True] = True
    revision: int
    version: str
    cluster_hash: str
    applied_at: float = Field(description="Unix time the change was applied")
    rollback_available: bool
    scope: Literal["cluster", "local"] = "cluster"
    changed_paths: list[str] = Field(default_factory=list)
    target_revision: int | None = Field(
        None, description="a rollback: the revision whose content it committed again")
    note: str | None = Field(
        None, description="a rollback by a config_version several revisions carry: which "
                          "one it took (the newest)")


class PatchOp(BaseModel):
    op: Literal["set", "delete", "merge"]
    path: str = Field(description="dotted option path, e.g. scheduling.policy")
    value: Any = None


class PatchRequest(BaseModel):
    operations: list[PatchOp] = Field(min_length=1)


class ValidationResponse(BaseModel):
    valid: bool
    errors: list[Issue]
    warnings: list[Issue]


class WatchResponse(BaseModel):
    revision: int
    cluster_hash: str
    changed: bool = Field(description="false when the wait timed out without a new revision")
    applied_at: float = Field(description="Unix time this node applied `revision`")


class Divergence(BaseModel):
    peer: str
    revision: int
    peer_cluster_hash: str = Field(description="the hash the peer announced for the revision")
    committed_cluster_hash: str = Field(description="the hash this node committed for it")
    seen_at: float


class FailureDetection(BaseModel):
    heartbeat_interval_ms: int = Field(description="this node's current (adaptive) interval")
    adaptive_heartbeat: bool
    phi_suspect_threshold: float
    phi_failed_threshold: float
    max_heartbeat_history: int
    refused_heartbeats: int = Field(description="forged, replayed or foreign heartbeats refused")
    catch_up_requests: int


class NodeStatus(BaseModel):
    node_id: str
    addr: str
    api_addr: str | None = None
    revision: int | None = None
    cluster_hash: str | None = None
    state: Literal["ready", "suspected", "failed", "isolated", "unreachable"]
    phi: float | None = None
    detector: Literal["alive", "suspected", "failed", "unknown"] | None = Field(
        default=None, description="the phi-accrual detector's verdict on this node")
    view: int | None = Field(default=None, description="the view the node last announced")
    heartbeat_interval_ms: int | None = None
    last_heartbeat_ms_ago: int | None = None
    divergence: Divergence | None = Field(
        default=None, description="evidence: another hash announced for a committed revision")
    reputation: float | None = None
    reputation_state: Literal["trusted", "suspect", "isolated"] | None = None
    isolated: bool | None = None
    restart_required: list[str] = Field(default_factory=list)
    reload_error: str = Field(
        default="", description="why the node's edited config file was not applied (hot reload)")
    not_ready: str = Field(
        default="", description="why the node is not ready (in the answering node's own entry)")


class ClusterStatus(BaseModel):
    view: int
    coordinator: str | None
    revision: int
    cluster_hash: str
    established: bool | None = Field(default=None,
                                     description="false while a view change is under way")
    failure_detection: FailureDetection | None = None
    peer_transport: dict[str, Any] | None = Field(
        default=None,
        description="this node's peer traffic counters since start, and how it reaches each "
                    "peer now: stream, requests (the peer refused the upgrade), blocked, none")
    protocol: dict[str, Any] | None = Field(
        default=None, description="agreement timeouts and reputation thresholds in force")
    divergence: list[Divergence] = Field(default_factory=list)
    nodes: list[NodeStatus]


class ReputationReset(BaseModel):
    node_id: str = Field(description="the node whose view of the member was reset")
    member: str
    reputation: float = Field(description="the member's score now (the initial score)")
    state: Literal["trusted", "suspect", "isolated"]
    previous_reputation: float
    previous_state: Literal["trusted", "suspect", "isolated"]


class HealthResponse(BaseModel):
    status: Literal["ok"]


class ReadyResponse(BaseModel):
    ready: bool
    reason: str = ""


TOML_DOCUMENT_SCHEMA: dict[str, Any] = {
    "type": "string",
    "description": "a configuration document in TOML",
}
JSON_DOCUMENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "a configuration document: sections as nested objects",
    "additionalProperties": True,
}


def document_body(description: str) -> dict[str, Any]:
    """`openapi_extra` declaring a TOML-or-JSON configuration request body."""
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {
                "application/toml": {"schema": TOML_DOCUMENT_SCHEMA},
                "application/json": {"schema": JSON_DOCUMENT_SCHEMA},
            },
        }
    }


def patch_body() -> dict[str, Any]:
    schema = PatchRequest.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = schema.pop("$defs", {})
    # Inline the single nested definition so the request body is self-contained.
    item = defs.get("PatchOp", {})
    schema["properties"]["operations"]["items"] = item
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema}},
        }
    }
