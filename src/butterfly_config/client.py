"""`ButterflyClient`: the Python client of a node's HTTP API (DESIGN 1.9).

Every failure is one of the project's error types, so the CLI can print it
and exit with the contract's code:

- the node cannot be reached (refused, DNS, TLS, timeout) -> `ConnectionFailed`
  (exit 2) naming the URL;
- 401 / 403 / 429 (credentials missing or wrong, not permitted, locked out)
  -> `RemoteAccessDenied` (exit 2: the request never reached the
  configuration, fix the token or the role);
- 400 / 404 / 409 / 412 / 413 / 503 (invalid, unknown version or member, static
  option or update in progress, changed since read, too large, no quorum) -> `RemoteRefused`
  (exit 1: the configuration or update was refused), carrying the server's
  issues;
- a 404 that is not the node's refusal (the URL is not a node's API, e.g. its
  peer address) -> `ConnectionFailed` (exit 2);
- a URL that is not http(s), or a token with characters no token has ->
  `UsageError` (exit 2) before anything is sent;
- any other status (a 500) -> `RemoteServerError` (exit 2).

The client ignores proxy environment variables (`trust_env=False`): node APIs
live on the cluster's own network, and a desktop proxy setting must not
capture requests to 127.0.0.1.
"""

from __future__ import annotations

import math
import ssl
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal
from urllib.parse import quote

import httpx
import orjson

from butterfly_config.errors import (
    ButterflyError,
    ConfigIssue,
    ConnectionFailed,
    Severity,
    UsageError,
)

CONNECT_HINT = "is the node running? check --url / BUTTERFLY_API_URL"
TOKEN_HINT = "check the token (--token / BUTTERFLY_API_TOKEN) and the roles it carries"
TOML_TYPE = "application/toml"
MEMBER_HINT = "`butterfly cluster status` lists the members"
URL_HINT = "give the node's API address (network.api_addr), e.g. http://127.0.0.1:8080"

ClientCert = str | tuple[str, str]


class RemoteRefused(ButterflyError):
    """The node refused the request: invalid, unknown version, conflict, no quorum."""

    exit_code = 1

    def __init__(
        self,
        status: int,
        message: str,
        errors: Sequence[ConfigIssue] = (),
        *,
        restart_required: Sequence[str] = (),
        hint: str = "",
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.errors = list(errors)
        self.restart_required = list(restart_required)

    def render(self) -> str:
        lines = [f"refused by the node (HTTP {self.status}): {self.message}"]
        lines += [issue.render() for issue in self.errors]
        if self.restart_required:
            lines.append("requires restart: " + ", ".join(self.restart_required))
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)


class RemoteAccessDenied(RemoteRefused):
    """401 / 403 / 429: the credentials were refused; exit 2 like a usage problem."""

    exit_code = 2


class RemoteServerError(ButterflyError):
    """The node failed while handling the request (5xx other than 503)."""

    exit_code = 2


_HINTS = {
    401: TOKEN_HINT,
    403: "the token is valid but its roles lack this permission; ask for a role that grants it",
    409: "another update is in progress; retry once it finishes",
    412: "read the configuration again and redo the change on top of it",
    413: "the request body is larger than the node accepts",
    429: "too many failed attempts from this address; wait, then retry with a valid token",
    503: "the cluster has no quorum or timed out; nothing was applied - retry when members are "
         "up, after `butterfly config history` shows the update did not commit meanwhile",
}


def _ssl_context(verify: bool | str, cert: ClientCert | None) -> ssl.SSLContext | bool:
    if verify is False and cert is None:
        return False
    if isinstance(verify, str):
        context = ssl.create_default_context(cafile=verify)
    else:
        context = ssl.create_default_context()
        if verify is False:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
    if cert is not None:
        certfile, keyfile = (cert, None) if isinstance(cert, str) else cert
        context.load_cert_chain(certfile, keyfile)
    return context


class ButterflyClient:
    """Synchronous client of one node's API."""

    def __init__(
        self,
        url: str,
        token: str | None = None,
        timeout: float = 30.0,
        verify: bool | str = True,
        cert: ClientCert | None = None,
    ) -> None:
        self.url = _checked_url(url.rstrip("/"))
        self.timeout = timeout
        headers = {"User-Agent": "butterfly-config-client"}
        token = _checked_token(token)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            context = _ssl_context(verify, cert)
        except (OSError, ssl.SSLError) as exc:
            raise ConnectionFailed(
                f"cannot set up TLS for {self.url}: {exc}",
                hint="check the CA file and client certificate paths",
            ) from None
        self._http = httpx.Client(
            base_url=self.url, headers=headers, timeout=timeout, verify=context, trust_env=False
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ButterflyClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- reading ----------------------------------------------------------------
    def get(
        self, format: Literal["json", "toml"] = "json"
    ) -> tuple[dict[str, Any] | str, int, str]:
        """The node's configuration, its revision and its ETag (the quoted cluster_hash).

        `format="toml"` returns the TOML text instead of a dict.
        """
        accept = TOML_TYPE if format == "toml" else "application/json"
        response = self._request("GET", "/api/v1/config", headers={"Accept": accept})
        revision = int(response.headers.get("x-config-revision", "-1"))
        etag = response.headers.get("etag", "")
        document: dict[str, Any] | str = (
            response.text if format == "toml" else _json_object(response)
        )
        return document, revision, etag

    def history(
        self, limit: int = 20, scope: Literal["cluster", "local"] = "cluster"
    ) -> list[dict[str, Any]]:
        response = self._request(
            "GET", "/api/v1/config/history", params={"limit": limit, "scope": scope}
        )
        entries = _json(response)
        if not isinstance(entries, list):
            raise RemoteServerError(f"{self.url}: history is not a list")
        return entries

    def status(self) -> dict[str, Any]:
        return _json_object(self._request("GET", "/api/v1/cluster/status"))

    def watch(self, after: int | None = None, timeout: float = 30.0) -> dict[str, Any]:
        """Block until a revision > `after` is committed, or `timeout` seconds pass.

        Returns `{revision, cluster_hash, changed, applied_at}`; `changed` is false on
        timeout; `applied_at` is the Unix time this node applied `revision`.
        """
        params: dict[str, Any] = {"timeout": timeout}
        if after is not None:
            params["after"] = after
        response = self._request(
            "GET", "/api/v1/config/watch", params=params, timeout=timeout + self.timeout
        )
        return _json_object(response)

    def health(self) -> dict[str, Any]:
        """`{live, ready, reason}` from /healthz and /readyz (a 503 is "not ready")."""
        live = self._request("GET", "/healthz").status_code == 200
        ready = self._request("GET", "/readyz", accept=(503,))
        body = _json_object(ready)
        return {"live": live, "ready": ready.status_code == 200,
                "reason": str(body.get("reason", ""))}

    # -- changing ---------------------------------------------------------------
    def update(
        self, document: Mapping[str, Any] | str, *, if_match: str | None = None
    ) -> dict[str, Any]:
        """Propose a full cluster configuration (a dict, or TOML text).

        `if_match`: the ETag `get()` returned with the document this one was made
        from; if the configuration changed since, the node refuses (412,
        `RemoteRefused`) and nothing is applied.
        """
        headers = _precondition(if_match)
        if isinstance(document, str):
            response = self._request("POST", "/api/v1/config", content=document.encode(),
                                     headers={**headers, "Content-Type": TOML_TYPE})
        else:
            response = self._request("POST", "/api/v1/config", json_body=dict(document),
                                     headers=headers)
        return _json_object(response)

    def patch(
        self, operations: Iterable[Mapping[str, Any]], *, if_match: str | None = None
    ) -> dict[str, Any]:
        """Apply `[{"op": "set|delete|merge", "path": ..., "value": ...}]` (`if_match`:
        as for `update`)."""
        body = {"operations": [dict(op) for op in operations]}
        return _json_object(self._request("PATCH", "/api/v1/config", json_body=body,
                                          headers=_precondition(if_match)))

    def set(self, path: str, value: Any) -> dict[str, Any]:
        return self.patch([{"op": "set", "path": path, "value": value}])

    def validate(self, document: Mapping[str, Any] | str) -> dict[str, Any]:
        """`{valid, errors, warnings}` for a document, nothing applied."""
        if isinstance(document, str):
            response = self._request("POST", "/api/v1/config/validate",
                                     content=document.encode(),
                                     headers={"Content-Type": TOML_TYPE})
        else:
            response = self._request("POST", "/api/v1/config/validate",
                                     json_body=dict(document))
        return _json_object(response)

    def rollback(self, version: str | int, *, if_match: str | None = None) -> dict[str, Any]:
        target = quote(str(version), safe="")
        return _json_object(self._request("POST", f"/api/v1/config/rollback/{target}",
                                          headers=_precondition(if_match)))

    def sync(self) -> dict[str, Any]:
        return _json_object(self._request("POST", "/api/v1/config/sync"))

    def reset_reputation(self, member: str) -> dict[str, Any]:
        """Lift this node's isolation of `member` (its score starts again at the initial one).

        Reputation is judged per node, so this changes the node at `url` only.
        Returns `{node_id, member, reputation, state, previous_reputation, previous_state}`.
        """
        path = f"/api/v1/cluster/members/{quote(member, safe='')}/reputation/reset"
        try:
            return _json_object(self._request("POST", path))
        except RemoteRefused as exc:
            if exc.status == 404:  # not about revisions; the node's issues carry their own hint
                exc.hint = "" if exc.errors else MEMBER_HINT
            raise

    # -- transport --------------------------------------------------------------
    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        json_body: Any = None,
        timeout: float | None = None,
        accept: tuple[int, ...] = (),
    ) -> httpx.Response:
        request_headers = dict(headers or {})
        if json_body is not None:
            content = _json_bytes(json_body)
            request_headers["Content-Type"] = "application/json"
        try:
            response = self._http.request(
                method, path, params=params, headers=request_headers, content=content,
                timeout=timeout if timeout is not None else self.timeout,
            )
        except httpx.TimeoutException:
            raise ConnectionFailed(
                f"the node at {self.url} did not answer within "
                f"{timeout if timeout is not None else self.timeout:g}s",
                hint=f"{CONNECT_HINT}; or raise --timeout",
            ) from None
        except httpx.TransportError as exc:
            raise ConnectionFailed(
                f"cannot reach the node at {self.url}: {_reason(exc)}", hint=CONNECT_HINT
            ) from None
        if response.status_code < 300 or response.status_code in accept:
            return response
        raise self._failure(response)

    def _failure(self, response: httpx.Response) -> ButterflyError:
        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        message = str(body.get("message") or response.reason_phrase or f"HTTP {status}")
        issues = [_issue(e) for e in body.get("errors", []) if isinstance(e, dict)]
        hint = _HINTS.get(status, "")
        if status == 409 and message.startswith("update aborted"):
            hint = ("a member refused the update for the reason above; nothing was applied - "
                    "change the request or the member's objection, then retry")
        if status == 429 and "retry-after" in response.headers:
            hint = f"locked out; retry in {response.headers['retry-after']}s with a valid token"
        restart_required = [str(p) for p in body.get("restart_required") or ()]
        if restart_required:
            hint = ("static options cannot change at runtime: change them in each node's "
                    "configuration file and restart the nodes")
        if status == 404 and "success" not in body:  # no refusal of ours: another server
            return ConnectionFailed(
                f"{self.url} has no {response.request.url.path}: it is not a node's API",
                hint=f"{URL_HINT}; a node's peer address (network.listen_addr) answers 404",
            )
        if status in (401, 403, 429):
            return RemoteAccessDenied(status, message, issues, hint=hint)
        if 400 <= status < 500 or status == 503:
            return RemoteRefused(status, message, issues,
                                 restart_required=restart_required, hint=hint)
        return RemoteServerError(f"the node at {self.url} failed (HTTP {status}): {message}",
                                 hint="the node's log has details")


def _precondition(if_match: str | None) -> dict[str, str]:
    return {} if if_match is None else {"If-Match": if_match}


def _checked_url(url: str) -> str:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise UsageError(f"the node URL {url!r} is not a valid URL: {exc}", hint=URL_HINT) from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise UsageError(f"the node URL {url!r} is not an http:// or https:// URL", hint=URL_HINT)
    return url


def _checked_token(token: str | None) -> str | None:
    """The token without surrounding whitespace (a file read into a variable ends in a
    newline); refused when it holds a character no JWT or API key has."""
    if token is None:
        return None
    token = token.strip()
    for position, char in enumerate(token, start=1):
        if not (char.isascii() and char.isprintable()) or char.isspace():
            raise UsageError(
                f"the API token holds a character no token has (at character {position})",
                hint="a token is one line of printable ASCII; " + TOKEN_HINT,
            )
    return token


def _reason(exc: httpx.TransportError) -> str:
    text = str(exc) or type(exc).__name__
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return "TLS certificate verification failed (wrong CA, or an http node at an https URL)"
    if "Connection refused" in text or "Errno 111" in text:
        return "connection refused"
    return text


def _issue(raw: Mapping[str, Any]) -> ConfigIssue:
    severity: Severity = "warning" if raw.get("severity") == "warning" else "error"
    return ConfigIssue(path=str(raw.get("path", "")), message=str(raw.get("message", "")),
                       hint=str(raw.get("hint", "")), rule=str(raw.get("rule", "")),
                       severity=severity)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise RemoteServerError(
            f"the node answered {response.request.url.path} with a body that is not JSON"
        ) from None


def _json_object(response: httpx.Response) -> dict[str, Any]:
    body = _json(response)
    if not isinstance(body, dict):
        raise RemoteServerError(
            f"the node answered {response.request.url.path} with {type(body).__name__}, "
            "expected an object"
        )
    return body


def _json_bytes(body: Any) -> bytes:
    """A request body as JSON. inf and nan are refused here: the encoder would send them
    as null, which unsets an optional option instead of failing."""
    if _non_finite(body):
        raise UsageError("inf and nan cannot be sent to a node: JSON has no such numbers",
                         hint="write a finite number")
    return orjson.dumps(body)


def _non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(map(_non_finite, value.values()))
    if isinstance(value, list | tuple):
        return any(map(_non_finite, value))
    return False
