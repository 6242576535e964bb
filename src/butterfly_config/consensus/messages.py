"""Protocol messages: small immutable records, each signed by its sender.

Every message starts with the same header - cluster, sender, view, attempt,
revision - and ends with `signature`. The signature covers a BLAKE3 digest of
the canonical encoding (consensus.encoding) of the type code and every other
field, so a signature cannot be replayed in another cluster, message type,
ballot (view, attempt) or revision. Nested records (votes inside certificates,
reports inside a justification) keep their own signatures and are checked
one by one.

`Entry` is the unit of agreement: one revision of the cluster document, named
by its `digest`, which chains it to its parent (see `entry_digest`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeAlias, TypeVar

from blake3 import blake3

from butterfly_config.consensus.encoding import encode, encode_fields, field_names, register

SIGNING_DOMAIN = b"butterfly-config/consensus/v2\x00"
ENTRY_DOMAIN = "butterfly-config/entry/v1"
GENESIS_PARENT = ""
"""Parent digest of revision 0 (the configuration the cluster boots with)."""

Ballot: TypeAlias = tuple[int, int]
"""(view, attempt), ordered lexicographically. See docs/consensus.md."""

HashFn: TypeAlias = Callable[[bytes], str]
"""Caller-supplied hash: bytes -> hex string (the project uses BLAKE3)."""

RejectKind = Literal["invalid", "veto"]
"""`invalid`: a deterministic validation error every honest member reproduces;
`veto`: a local subscriber's refusal nobody else can check."""

RefuseKind = Literal["busy", "invalid", "not_ready", "stale", "veto"]
"""Why a coordinator will not start a client's request; `veto`: its own subscriber refused it;
`stale`: the request was built on another head than the coordinator's."""


@register(1)
@dataclass(frozen=True, slots=True)
class Entry:
    """One proposed revision: the document plus what chains and names it."""

    revision: int
    parent_digest: str
    doc_hash: str
    request_id: str
    origin: str
    """Node id of the member that received the client's request."""
    initiator: str
    """Who asked for the change (the client identity the origin authenticated)."""
    document: bytes
    digest: str


def entry_digest(
    hash_fn: HashFn,
    cluster: str,
    revision: int,
    parent_digest: str,
    doc_hash: str,
    request_id: str,
    origin: str,
    initiator: str,
) -> str:
    """The hash-chain link: binds cluster, revision, content, parent and origin."""
    payload = encode(
        (ENTRY_DOMAIN, cluster, revision, parent_digest, doc_hash, request_id, origin, initiator)
    )
    return hash_fn(payload)


def make_entry(
    hash_fn: HashFn,
    cluster: str,
    revision: int,
    parent_digest: str,
    document: bytes,
    request_id: str = "",
    origin: str = "",
    initiator: str = "",
) -> Entry:
    doc_hash = hash_fn(document)
    digest = entry_digest(
        hash_fn, cluster, revision, parent_digest, doc_hash, request_id, origin, initiator
    )
    return Entry(revision, parent_digest, doc_hash, request_id, origin, initiator, document, digest)


def entry_is_consistent(entry: Entry, cluster: str, hash_fn: HashFn) -> bool:
    """True when doc_hash and digest really are the hashes of the entry's content."""
    if hash_fn(entry.document) != entry.doc_hash:
        return False
    expected = entry_digest(
        hash_fn,
        cluster,
        entry.revision,
        entry.parent_digest,
        entry.doc_hash,
        entry.request_id,
        entry.origin,
        entry.initiator,
    )
    return expected == entry.digest


M = TypeVar("M", bound="SignedMessage")


class SignedMessage:
    """Mixin for messages: header fields, signing bytes, signature swap."""

    __slots__ = ()
    cluster: str
    sender: str
    view: int
    attempt: int
    revision: int
    signature: bytes

    @property
    def ballot(self) -> Ballot:
        return (self.view, self.attempt)

    def signing_bytes(self) -> bytes:
        """The domain and the BLAKE3 digest of the type code and every field but the
        signature: a PROPOSE, FORWARD or FINALIZE holds the whole document, and
        ed25519 hashes what it signs twice and the verified-signature cache once
        more, where BLAKE3 reads the encoding once, several times faster."""
        names = field_names(type(self))[:-1]  # every field but the trailing signature
        return SIGNING_DOMAIN + blake3(encode_fields(self, names)).digest()

    def with_signature(self: M, signature: bytes) -> M:
        return dataclasses.replace(self, signature=signature)  # type: ignore[type-var]


@register(2)
@dataclass(frozen=True, slots=True)
class PrepareOk(SignedMessage):
    """A member's vote that the proposed entry is valid (at most one per ballot).

    `fast` is True when the ballot runs optimistic_pbft: only such votes can
    form a fast commit certificate, so the protocol in force is part of what
    the member signed.
    """

    cluster: str
    sender: str
    view: int
    attempt: int
    revision: int
    digest: str
    fast: bool
    signature: bytes = b""


@register(3)
@dataclass(frozen=True, slots=True)
class PrepareReject(SignedMessage):
    """A member's refusal of the proposed entry, with its reason."""

    cluster: str
    sender: str
    view: int
    attempt: int
    revision: int
    digest: str
    kind: RejectKind
    reason: str
    signature: bytes = b""


@register(4)
@dataclass(frozen=True, slots=True)
class CommitVote(SignedMessage):
    """A member's vote after locking on a prepare certificate."""

    cluster: str
    sender: str
    view: int
    attempt: int
    revision: int
    digest: str
    signature: bytes = b""


@register(5)
@dataclass(frozen=True, slots=True)
class PrepareCertificate:
    """q PREPARE_OK votes from distinct members for one (ballot, revision, digest)."""

    view: int
    attempt: int
    revision: int
    digest: str
    votes: tuple[PrepareOk, ...]

    @property
    def ballot(self) -> Ballot:
        return (self.view, self.attempt)


@register(6)
@dataclass(frozen=True, slots=True)
class CommitCertificate:
    """Proof a revision is decided: q COMMIT votes, or n PREPARE_OK votes (fast path).

    Exactly one of `commit_votes` / `fast_votes` is non-empty.
    """

    view: int
    attempt: int
    revision: int
    digest: str
    commit_votes: tuple[CommitVote, ...]
    fast_votes: tuple[PrepareOk, ...]

    @property
    def ballot(self) -> Ballot:
        return (self.view, self.attempt)

    @property
    def fast(self) -> bool:
        return bool(self.fast_votes)


@register(7)
@dataclass(frozen=True, slots=True)
class Decided:
    """A committed revision with the certificate that proves it (applied, fetched)."""

    entry: Entry
    certificate: CommitCertificate | None
    """None only for revision 0, which every member boots with."""


@register(8)
@dataclass(frozen=True, slots=True)
class Abort(SignedMessage):
    """The coordinator gives up a ballot before any prepare certificate exists."""

    cluster: str
    sender: str
    view: int
    attempt: int
    revision: int
    digest: str
    request_id: str
    origin: str
    reason: str
    rejects: tuple[PrepareReject, ...]
    signature: bytes = b""


@register(9)
@dataclass(frozen=True, slots=True)
class ViewChange(SignedMessage):
    """A member's report for moving to ballot (view, attempt).

    Sent on a view change (attempt 0 of the next view) and after an abort
    (the next attempt of the same view). By sending it the member promises
    never to vote in a lower ballot again. `revision` is the member's pending
    revision (head + 1); lock and last vote refer to that revision.
    """

    cluster: str
    sender: str
    view: int
    attempt: int
    revision: int
    head: Decided
    lock: PrepareCertificate | None
    lock_entry: Entry | None
    vote_view: int
    vote_attempt: int
    vote_fast: bool
    vote_entry: Entry | None
    """The member's highest-ballot PREPARE_OK for `revision` (ballot, fast flag,
    entry) that was not definitively aborted; None if there is none. A claim
    inside the signed report, never the vote's own signature, so reports
    cannot be assembled into a fast certificate."""
    signature: bytes = b""


@register(10)
@dataclass(frozen=True, slots=True)
class Propose(SignedMessage):
    """PROPOSE from the coordinator of the ballot's view.

    `justification` holds the ViewChange reports for this ballot; it is empty
    only for ballot (0, 0) and for a revision newer than the one the view
    started on (see docs/consensus.md, "Ballots and justification").
    """

    cluster: str
    sender: str
    view: int
    attempt: int
    revision: int
    entry: Entry
    fast: bool
    """True when this ballot runs optimistic_pbft (fast path allowed)."""
    justification: tuple[ViewChange, ...]
    signature: bytes = b""


@register(11)
@dataclass(frozen=True, slots=True)
class CommitRequest(SignedMessage):
    """COMMIT from the coordinator: carries the prepare certificate to lock on."""

    cluster: str
    sender: str
    view: int
    attempt: int
    revision: int
    certificate: PrepareCertificate
    entry: Entry
    """The certified entry, so a member that missed PROPOSE can still lock on it."""
    signature: bytes = b""


@register(12)
@dataclass(frozen=True, slots=True)
class Finalize(SignedMessage):
    """FINALIZE: the decided entry and its commit certificate."""

    cluster: str
    sender: str
    view: int
    attempt: int
    revision: int
    decided: Decided
    signature: bytes = b""


@register(13)
@dataclass(frozen=True, slots=True)
class ConfigApplied(SignedMessage):
    """A member's acknowledgement that it persisted and applied a revision."""

    cluster: str
    sender: str
    view: int
    attempt: int
    revision: int
    digest: str
    signature: bytes = b""


@register(14)
@dataclass(frozen=True, slots=True)
class NewView(SignedMessage):
    """The new coordinator's announcement of ballot (view, attempt) with its reports."""

    cluster: str
    sender: str
    view: int
    attempt: int
    revision: int
    reports: tuple[ViewChange, ...]
    signature: bytes = b""


@register(15)
@dataclass(frozen=True, slots=True)
class Forward(SignedMessage):
    """A client's proposal handed from the member that received it to the coordinator.

    Its `revision` is the request's: one past the head its document was built on.
    """

    cluster: str
    sender: str
    view: int
    attempt: int
    revision: int
    request_id: str
    initiator: str
    document: bytes
    signature: bytes = b""


@register(16)
@dataclass(frozen=True, slots=True)
class Refuse(SignedMessage):
    """The coordinator's answer to a forwarded proposal it will not start."""

    cluster: str
    sender: str
    view: int
    attempt: int
    revision: int
    request_id: str
    kind: RefuseKind
    reason: str
    signature: bytes = b""


@register(17)
@dataclass(frozen=True, slots=True)
class Status(SignedMessage):
    """Periodic head exchange: `revision` is the sender's committed head."""

    cluster: str
    sender: str
    view: int
    attempt: int
    revision: int
    head_digest: str
    signature: bytes = b""


@register(18)
@dataclass(frozen=True, slots=True)
class Fetch(SignedMessage):
    """Ask a peer for committed revisions after `revision` (the asker's head)."""

    cluster: str
    sender: str
    view: int
    attempt: int
    revision: int
    signature: bytes = b""


@register(19)
@dataclass(frozen=True, slots=True)
class FetchReply(SignedMessage):
    """Committed revisions with their certificates, oldest first."""

    cluster: str
    sender: str
    view: int
    attempt: int
    revision: int
    decided: tuple[Decided, ...]
    signature: bytes = b""


Message: TypeAlias = (
    Propose
    | PrepareOk
    | PrepareReject
    | CommitRequest
    | CommitVote
    | Finalize
    | ConfigApplied
    | Abort
    | ViewChange
    | NewView
    | Forward
    | Refuse
    | Status
    | Fetch
    | FetchReply
)

MESSAGE_TYPES: tuple[type[SignedMessage], ...] = (
    Propose,
    PrepareOk,
    PrepareReject,
    CommitRequest,
    CommitVote,
    Finalize,
    ConfigApplied,
    Abort,
    ViewChange,
    NewView,
    Forward,
    Refuse,
    Status,
    Fetch,
    FetchReply,
)


def message_type_name(message: SignedMessage) -> str:
    """Protocol name of a message, as in logs and docs (PREPARE_OK, ...)."""
    return _NAMES[type(message)]


_NAMES: dict[type[SignedMessage], str] = {
    Propose: "PROPOSE",
    PrepareOk: "PREPARE_OK",
    PrepareReject: "PREPARE_REJECT",
    CommitRequest: "COMMIT",
    CommitVote: "COMMIT_VOTE",
    Finalize: "FINALIZE",
    ConfigApplied: "CONFIG_APPLIED",
    Abort: "ABORT",
    ViewChange: "VIEW_CHANGE",
    NewView: "NEW_VIEW",
    Forward: "FORWARD",
    Refuse: "REFUSE",
    Status: "STATUS",
    Fetch: "FETCH",
    FetchReply: "FETCH_REPLY",
}


def encode_message(message: SignedMessage) -> bytes:
    """Wire bytes of a signed message (the same canonical encoding it is signed over)."""
    return encode(message)


def decode_message(data: bytes) -> Message:
    """Parse wire bytes; raises consensus.encoding.DecodeError for anything malformed."""
    from butterfly_config.consensus.encoding import decode

    return decode(data, SignedMessage)  # type: ignore[return-value]
