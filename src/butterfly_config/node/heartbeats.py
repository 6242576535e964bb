"""Signed heartbeats between members: wire format, verification, and their pace.

A heartbeat says "I am alive, this is my committed head": cluster name,
sender, a per-sender increasing sequence number, the sender's committed
revision and cluster_hash, its view, the interval at which it sends, and the
options its edited files change that need a restart (so `cluster status` on
any node shows every node's). It is
signed with the member's consensus signing key over the canonical encoding of
those fields (`consensus.encoding`), so the claims in it can be used as
evidence, and nobody but the member can make the others believe it is alive.

A receiver refuses (the transport answers 400, nothing changes) a heartbeat
that does not decode, names another cluster, comes from a non-member or from
this node, carries no or a wrong signature, or whose sequence number is not
above the last one accepted from that sender (a replay). The sequence number
is `boot_epoch << 32 | counter`: the epoch is a counter persisted by the node
and raised at every start, so a restarted member's heartbeats stay above the
ones it sent before, without relying on its clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from butterfly_config.consensus.crypto import KeyRing, Signer
from butterfly_config.consensus.encoding import DecodeError, decode, encode

HEARTBEAT_DOMAIN = "butterfly-config/heartbeat/v2"
SEQ_COUNTER_BITS = 32
MAX_HEARTBEAT_BYTES = 16384
MAX_ANNOUNCED_PATHS = 64


class HeartbeatRefused(ValueError):
    """The heartbeat is not genuine, not fresh or not from a member; it changed nothing."""


@dataclass(frozen=True, slots=True)
class Heartbeat:
    cluster: str
    sender: str
    seq: int
    revision: int
    cluster_hash: str
    view: int
    interval_ms: int
    restart_required: tuple[str, ...] = ()

    def signing_bytes(self) -> bytes:
        return encode((HEARTBEAT_DOMAIN, self.cluster, self.sender, self.seq, self.revision,
                       self.cluster_hash, self.view, self.interval_ms,
                       self.restart_required[:MAX_ANNOUNCED_PATHS]))


def encode_heartbeat(heartbeat: Heartbeat, signer: Signer) -> bytes:
    """The signed wire bytes of a heartbeat (the signer must be its sender)."""
    if signer.node_id != heartbeat.sender:
        raise ValueError(f"{signer.node_id} cannot sign a heartbeat of {heartbeat.sender}")
    signed = heartbeat.signing_bytes()
    return encode((signed, signer.sign(signed)))


def decode_heartbeat(data: bytes) -> tuple[Heartbeat, bytes, bytes]:
    """(heartbeat, the bytes its signature covers, the signature); HeartbeatRefused if malformed."""
    if len(data) > MAX_HEARTBEAT_BYTES:
        raise HeartbeatRefused("heartbeat too large")
    try:
        outer = decode(data, tuple)
        if len(outer) != 2 or not all(isinstance(p, bytes) for p in outer):
            raise DecodeError("expected (signed bytes, signature)")
        signed, signature = outer
        fields = decode(signed, tuple)
    except DecodeError as exc:
        raise HeartbeatRefused(f"malformed heartbeat ({exc})") from exc
    kinds = (str, str, str, int, int, str, int, int, tuple)
    if len(fields) != len(kinds) or not all(
        isinstance(v, k) and not isinstance(v, bool) for v, k in zip(fields, kinds, strict=False)
    ) or len(fields[-1]) > MAX_ANNOUNCED_PATHS or not all(
        isinstance(p, str) for p in fields[-1]
    ):
        raise HeartbeatRefused("malformed heartbeat (wrong fields)")
    if fields[0] != HEARTBEAT_DOMAIN:
        raise HeartbeatRefused("not a heartbeat")
    heartbeat = Heartbeat(*fields[1:])
    if heartbeat.seq < 0 or heartbeat.interval_ms <= 0 or heartbeat.revision < 0:
        raise HeartbeatRefused("malformed heartbeat (out of range)")
    return heartbeat, signed, signature


class HeartbeatVerifier:
    """Accepts genuine, fresh heartbeats from the other members, refuses the rest."""

    def __init__(self, cluster: str, node_id: str, members: frozenset[str],
                 keyring: KeyRing) -> None:
        self.cluster = cluster
        self.node_id = node_id
        self.members = members
        self.keyring = keyring
        self._last_seq: dict[str, int] = {}

    def accept(self, data: bytes, claimed_sender: str = "") -> Heartbeat:
        """The verified heartbeat; raises HeartbeatRefused (and records nothing) otherwise."""
        heartbeat, signed, signature = decode_heartbeat(data)
        sender = heartbeat.sender
        if heartbeat.cluster != self.cluster:
            raise HeartbeatRefused(f"heartbeat for cluster {heartbeat.cluster!r}")
        if sender not in self.members or sender == self.node_id:
            raise HeartbeatRefused(f"{sender!r} is not a peer in this cluster")
        if claimed_sender and claimed_sender != sender:
            raise HeartbeatRefused("sender does not match the connection's node header")
        if not signature or not self.keyring.verify(sender, signed, signature):
            raise HeartbeatRefused(f"bad or missing signature on a heartbeat from {sender}")
        last = self._last_seq.get(sender, -1)
        if heartbeat.seq <= last:
            raise HeartbeatRefused(f"replayed or stale heartbeat from {sender} "
                                   f"(sequence {heartbeat.seq} <= {last})")
        self._last_seq[sender] = heartbeat.seq
        return heartbeat


class SequenceNumbers:
    """`epoch << 32 | counter`: increasing across restarts when the epoch is persisted."""

    def __init__(self, epoch: int) -> None:
        if epoch < 0 or epoch >= 1 << 30:
            raise ValueError("heartbeat epoch out of range")
        self._next = epoch << SEQ_COUNTER_BITS

    def next(self) -> int:
        value = self._next
        self._next += 1
        return value


@dataclass(frozen=True, slots=True)
class PaceSettings:
    """byzantine.failure_detection: the heartbeat interval and its adaptive bounds."""

    interval_ms: int = 100
    adaptive: bool = True
    min_interval_ms: int = 50
    max_interval_ms: int = 500

    @property
    def base_ms(self) -> int:
        return min(max(self.interval_ms, self.min_interval_ms), self.max_interval_ms)


class HeartbeatPace:
    """How long to wait before the next heartbeat.

    Why it adapts (when `adaptive_heartbeat` is on): a node that cannot keep
    its own pace is overloaded (starved of CPU, blocked on disk, paused). Its
    late heartbeats would make the others suspect it, and sending more often
    only adds to its load. So, like the local-health awareness of SWIM's
    Lifeguard extension, a node that wakes up a whole interval late for a
    heartbeat (it missed a beat) doubles its interval (at most
    `max_heartbeat_interval_ms`) and announces the new interval in its
    heartbeats; receivers then widen their expectations instead of suspecting
    it. After `recovery_rounds` punctual rounds it halves the interval again,
    down to the configured `heartbeat_interval_ms` (never below
    `min_heartbeat_interval_ms`). When off, the interval is fixed.
    """

    recovery_rounds = 20
    late_fraction = 1.0
    """Late by a whole interval (a missed beat); smaller delays are normal scheduling."""

    def __init__(self, settings: PaceSettings | None = None) -> None:
        self.settings = settings or PaceSettings()
        self.interval_ms = self.settings.base_ms
        self._punctual = 0

    def configure(self, settings: PaceSettings) -> None:
        self.settings = settings
        self.interval_ms = settings.base_ms
        self._punctual = 0

    def observe(self, lateness_ms: float) -> int:
        """Record how late this round woke up; returns the interval to use next."""
        settings = self.settings
        if not settings.adaptive:
            self.interval_ms = settings.base_ms
            return self.interval_ms
        if lateness_ms > self.late_fraction * self.interval_ms:
            self.interval_ms = min(self.interval_ms * 2, settings.max_interval_ms)
            self._punctual = 0
        else:
            self._punctual += 1
            if self._punctual >= self.recovery_rounds and self.interval_ms > settings.base_ms:
                self.interval_ms = max(self.interval_ms // 2, settings.base_ms)
                self._punctual = 0
        return self.interval_ms
