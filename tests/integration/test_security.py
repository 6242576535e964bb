"""Security of real node processes: API credentials, roles, lockout, body limits, peer port.

One 4-node cluster serves the module. Lockout counts failures per client
address and every request here comes from 127.0.0.1, so each test uses its
own node (the lockout test last, on node-3, with a 2-second lockout) and
credential failures on one node are followed by a success, which clears them.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx
import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from integration_harness import LocalCluster

from butterfly_config.canonical import digest
from butterfly_config.consensus.crypto import Ed25519Signer, Signer, sign_message
from butterfly_config.consensus.messages import (
    CommitCertificate,
    CommitVote,
    Decided,
    Entry,
    Finalize,
    Propose,
    encode_message,
    make_entry,
)
from butterfly_config.node.security import create_token, load_jwt_secret, load_private_key
from butterfly_config.node.transport import MESSAGE_PATH, STREAM_PATH

CLUSTER_NAME = "butterfly-dev"
ISSUER, AUDIENCE = "butterfly-cluster", "butterfly-api"
LOCKOUT_SECS = 2


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    with LocalCluster(tmp_path_factory.mktemp("security") / "cluster", 4,
                      options={"security.api.lockout_duration_secs": LOCKOUT_SECS}) as local:
        yield local


def token(cluster: LocalCluster, *, roles: tuple[str, ...] = ("admin",), ttl: int = 600,
          now: float | None = None, secret: bytes | None = None, audience: str = AUDIENCE,
          issuer: str = ISSUER) -> str:
    key = secret if secret is not None else load_jwt_secret(cluster.layout.jwt_secret_path)
    return create_token(key, subject="tester", roles=roles, ttl=ttl, issuer=issuer,
                        audience=audience, now=now)


def call(cluster: LocalCluster, index: int, method: str, path: str, bearer: str | None = None,
         **kwargs: Any) -> httpx.Response:
    headers = dict(kwargs.pop("headers", {}))
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    with cluster.http() as http:
        return http.request(method, f"{cluster.url(index)}{path}", headers=headers, **kwargs)


def patch_body(value: int) -> dict[str, Any]:
    return {"operations": [{"op": "set", "path": "network.compression.level", "value": value}]}


def state(cluster: LocalCluster) -> list[tuple[int, str, int, list[float]]]:
    """Per node: revision, cluster_hash, view and the reputation it holds for each member."""
    views = []
    for index in range(cluster.size):
        status = cluster.client(index).status()
        views.append((status["revision"], status["cluster_hash"], status["view"],
                      [n["reputation"] for n in status["nodes"]]))
    return views


# -- the API -------------------------------------------------------------------------
def test_missing_or_invalid_tokens_are_401(cluster: LocalCluster) -> None:
    now = time.time()
    cases = {
        "no token": None,
        "not a JWT": "not-a-token",
        "bad signature": token(cluster, secret=os.urandom(32)),
        "expired": token(cluster, ttl=60, now=now - 3600),
        "wrong audience": token(cluster, audience="someone-else"),
        "wrong issuer": token(cluster, issuer="someone-else"),
    }
    for name, bad in cases.items():
        for method, path, body in (("GET", "/api/v1/config", None),
                                   ("PATCH", "/api/v1/config", patch_body(9))):
            response = call(cluster, 1, method, path, bad, json=body)
            assert response.status_code == 401, (name, method, response.text)
            assert response.headers["www-authenticate"].startswith("Bearer")
            if bad:
                assert bad not in response.text
        # A valid request clears the failures, so the next case is not a lockout.
        assert call(cluster, 1, "GET", "/api/v1/config", token(cluster)).status_code == 200
    assert {r["outcome"] for r in cluster.audit(1)} == {"unauthenticated"}
    assert len(cluster.audit(1)) == 2 * len(cases)
    assert cluster.client(1).get()[0]["network"]["compression"]["level"] != 9


def test_a_role_without_config_write_gets_403(cluster: LocalCluster) -> None:
    reader = token(cluster, roles=("reader",))
    assert call(cluster, 2, "GET", "/api/v1/config", reader).status_code == 200
    refused = call(cluster, 2, "PATCH", "/api/v1/config", reader, json=patch_body(9))
    assert refused.status_code == 403
    assert "config:write" in refused.json()["message"]
    assert call(cluster, 2, "POST", "/api/v1/config/rollback/0", reader).status_code == 403
    operator = token(cluster, roles=("operator",))
    assert call(cluster, 2, "POST", "/api/v1/config/sync", operator).status_code == 403
    forbidden = [r for r in cluster.audit(2) if r["outcome"] == "forbidden"]
    assert [r["detail"]["permission"] for r in forbidden] == [
        "config:write", "config:rollback", "cluster:admin"]
    assert cluster.client(2).get()[0]["network"]["compression"]["level"] != 9


def test_ten_megabyte_body_is_413_and_the_node_carries_on(cluster: LocalCluster) -> None:
    before = state(cluster)
    ten_mb = b"[network]\n" + b"#" * (10 * 1024 * 1024)
    for bearer in (token(cluster), None):
        response = call(cluster, 0, "POST", "/api/v1/config", bearer, content=ten_mb,
                        headers={"Content-Type": "application/toml"})
        assert response.status_code == 413
    assert state(cluster) == before
    assert call(cluster, 0, "GET", "/healthz").status_code == 200


# -- the peer port -------------------------------------------------------------------
@dataclass
class Forger:
    """Builds consensus messages for the cluster under test from outside it."""

    cluster: LocalCluster

    def member_signer(self, index: int) -> Signer:
        key = load_private_key(self.cluster.node(index).home / "keys" / "signing.key")
        assert isinstance(key, Ed25519PrivateKey)
        return Ed25519Signer(f"node-{index}", key)

    def next_entry(self, level: int) -> Entry:
        """A well-formed entry for the next revision that sets the compression level."""
        head = self.cluster.stored_history(0)[-1].entry
        tree = orjson.loads(head.document)
        tree["network"]["compression"]["level"] = level
        document = orjson.dumps(tree, option=orjson.OPT_SORT_KEYS)
        return make_entry(digest, CLUSTER_NAME, head.revision + 1, head.digest, document,
                          "update-forged", "node-0", "mallory")

    def finalize(self, entry: Entry, outer: Signer, voters: list[Signer], view: int) -> bytes:
        votes = tuple(sign_message(s, CommitVote(CLUSTER_NAME, s.node_id, view, 0,
                                                 entry.revision, entry.digest))
                      for s in voters)
        certificate = CommitCertificate(view, 0, entry.revision, entry.digest, votes, ())
        message = Finalize(CLUSTER_NAME, outer.node_id, view, 0, entry.revision,
                           Decided(entry, certificate))
        return encode_message(sign_message(outer, message))


def post_peer(cluster: LocalCluster, index: int, body: bytes, sender: str = "node-0",
              path: str = MESSAGE_PATH) -> httpx.Response:
    with cluster.http() as http:
        return http.post(f"{cluster.peer_url(index)}{path}", content=body,
                         headers={"Content-Type": "application/octet-stream",
                                  "X-Butterfly-Node": sender})


def stream_to_peer(cluster: LocalCluster, index: int, frames: list[bytes],
                   sender: str = "node-0") -> int | None:
    """Send `frames` on a peer stream, in order, then a text frame (which peers refuse by
    closing with 1003, once every frame before it was handled); the close code seen
    (1006 when the peer dropped the connection instead)."""
    async def send() -> int | None:
        async with aiohttp.ClientSession() as http, http.ws_connect(
                cluster.peer_url(index) + STREAM_PATH,
                headers={"X-Butterfly-Node": sender}) as stream:
            try:
                for frame in frames:
                    await stream.send_bytes(frame)
                await stream.send_str("end")
            except ConnectionError:
                pass
            await asyncio.wait_for(stream.receive(), 10.0)
            return stream.close_code

    return asyncio.run(send())


def test_garbage_oversized_and_forged_peer_messages_change_nothing(
        cluster: LocalCluster) -> None:
    revision, _ = cluster.wait_converged()
    before = state(cluster)
    audit_before = [len(cluster.audit(i)) for i in range(cluster.size)]
    forger = Forger(cluster)
    view = before[0][2]
    entry = forger.next_entry(level=9)
    real = forger.member_signer(0)
    # Keys the cluster does not know, under members' names.
    rogue = [Ed25519Signer.generate(f"node-{i}") for i in range(cluster.size)]
    mallory = Ed25519Signer.generate("mallory")
    history = cluster.stored_history(0)
    assert len(history) >= 1
    genuine_finalize = forger.finalize(entry, real, [forger.member_signer(i) for i in range(3)],
                                       view)

    messages: dict[str, bytes] = {
        "garbage": os.urandom(4096),
        "empty": b"",
        "truncated": genuine_finalize[: len(genuine_finalize) // 2],
        # Outer and votes signed with keys the cluster does not know, names of members.
        "bad signatures": forger.finalize(entry, rogue[0], rogue[:3], view),
        # A non-member signing as itself.
        "non-member": forger.finalize(entry, mallory, [mallory], view),
        # Another cluster's name on otherwise genuine signatures.
        "other cluster": encode_message(sign_message(real, Finalize(
            "other-cluster", "node-0", view, 0, entry.revision, Decided(entry, None)))),
        # Genuine bit-for-bit signature, then one byte of the document flipped.
        "tampered": genuine_finalize.replace(b'"level":9', b'"level":8'),
    }
    assert messages["tampered"] != genuine_finalize and len(messages["tampered"]) == len(
        genuine_finalize)
    # Replays: the real FINALIZE and PROPOSE of a revision the cluster already has.
    for decided in history[1:]:
        assert decided.certificate is not None
        ballot = (decided.certificate.view, decided.certificate.attempt)
        messages[f"replayed finalize r{decided.entry.revision}"] = encode_message(sign_message(
            real, Finalize(CLUSTER_NAME, "node-0", *ballot, decided.entry.revision, decided)))
        messages[f"replayed propose r{decided.entry.revision}"] = encode_message(sign_message(
            real, Propose(CLUSTER_NAME, "node-0", *ballot, decided.entry.revision, decided.entry,
                          True, ())))
    for name, body in messages.items():
        for index in (1, 2, 3):
            response = post_peer(cluster, index, body)
            assert response.status_code < 500, (name, response.status_code)
    oversized = post_peer(cluster, 2, b"\0" * (9 * 1024 * 1024))
    assert oversized.status_code == 413
    # The same on the peers' streams (closed by the text frame at the end), and a frame over
    # the size limit, which closes its stream (1009) or drops the connection (1006).
    frames = [b"m" + body for body in messages.values()] + [b"h" + messages["garbage"]]
    for index in (1, 2, 3):
        assert stream_to_peer(cluster, index, frames) == 1003
    assert stream_to_peer(cluster, 2, [b"m" + b"\0" * (9 * 1024 * 1024)]) in (1009, 1006)
    time.sleep(0.5)  # anything that slipped through would have been acted on by now
    assert state(cluster) == before
    for index in range(cluster.size):
        # No evidence or isolation was recorded against the members whose names were used.
        assert len(cluster.audit(index)) == audit_before[index], cluster.audit(index)
    assert all(e["initiator"] != "mallory" for e in cluster.client(2).history(limit=100))
    # Control: the same entry under a certificate of real member signatures is applied, so
    # what was refused above was refused for its signatures, not for its shape.
    for index in (1, 2, 3):
        assert post_peer(cluster, index, genuine_finalize).status_code == 202
    assert cluster.wait_converged(at_least=revision + 1)[0] == revision + 1
    assert cluster.client(0).history(limit=1)[0]["initiator"] == "mallory"
    cluster.client(3).set("network.compression.level", 5)
    assert cluster.wait_converged(at_least=revision + 2)[0] == revision + 2


def test_lockout_after_repeated_failures_is_429_even_with_a_valid_token(
        cluster: LocalCluster) -> None:
    good = token(cluster)
    limit = 5  # security.api.max_failed_auth_attempts default
    codes = [call(cluster, 3, "GET", "/api/v1/config", "wrong").status_code
             for _ in range(limit)]
    assert codes == [401] * limit
    locked = call(cluster, 3, "GET", "/api/v1/config", good)
    assert locked.status_code == 429
    assert 1 <= int(locked.headers["retry-after"]) <= LOCKOUT_SECS
    # Other nodes keep their own count; health stays open.
    assert call(cluster, 0, "GET", "/api/v1/config", good).status_code == 200
    assert call(cluster, 3, "GET", "/healthz").status_code == 200
    assert any(r["detail"].get("locked_out_secs") == LOCKOUT_SECS for r in cluster.audit(3))
    cluster.wait_for("the lockout to end",
                     lambda: call(cluster, 3, "GET", "/api/v1/config", good).status_code == 200,
                     timeout=LOCKOUT_SECS + 10, interval=0.25)


def test_access_settings_changed_at_runtime_take_effect(cluster: LocalCluster) -> None:
    admin = token(cluster)

    def revisions(bearer: str) -> set[int]:
        return {int(call(cluster, i, "GET", "/api/v1/config", bearer)
                    .headers.get("x-config-revision", -1)) for i in range(cluster.size)}

    # dynamic-consensus: a new audience applies on every node; old tokens stop working
    revision = cluster.client(0).set("security.api.jwt_audience", "butterfly-api-v2")["revision"]
    fresh = token(cluster, audience="butterfly-api-v2")
    cluster.wait_for("every node to apply the new audience",
                     lambda: revisions(fresh) == {revision})
    for index in range(cluster.size):
        assert call(cluster, index, "GET", "/api/v1/config", admin).status_code == 401
    restored = call(cluster, 0, "PATCH", "/api/v1/config", fresh, json={"operations": [
        {"op": "set", "path": "security.api.jwt_audience", "value": AUDIENCE}]})
    assert restored.status_code == 200, restored.text
    cluster.wait_for("every node to restore the audience",
                     lambda: revisions(admin) == {revision + 1})
    # dynamic-local: node-2 alone now locks a client out after 2 failures
    changed = call(cluster, 2, "PATCH", "/api/v1/config", admin, json={"operations": [
        {"op": "set", "path": "security.api.max_failed_auth_attempts", "value": 2}]})
    assert changed.status_code == 200, changed.text
    codes = [call(cluster, 2, "GET", "/api/v1/config", "wrong").status_code for _ in range(2)]
    assert codes == [401, 401]
    assert call(cluster, 2, "GET", "/api/v1/config", admin).status_code == 429
    cluster.wait_for("node-2's lockout to end",
                     lambda: call(cluster, 2, "GET", "/api/v1/config", admin).status_code == 200,
                     timeout=LOCKOUT_SECS + 10, interval=0.25)
