"""Bytes for the consensus `HardState`, as the history store keeps them.

Protocol records inside it (entries, certificates, signed votes) keep the
consensus layer's own canonical encoding (hex inside JSON), so a stored lock
is byte-for-byte the certificate that was verified; the plain fields are JSON.
Decoding checks every type: a damaged row is an error, never a wrong state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import orjson

from butterfly_config.consensus.encoding import DecodeError, decode, encode
from butterfly_config.consensus.messages import Entry, PrepareCertificate
from butterfly_config.consensus.state import CommitVoteRecord, HardState, VoteRecord

FORMAT = 2
"""2: each entry is written once, in `entries`, and the records that hold it name its
place there (a member's vote, its reportable copies and, on a coordinator, its
proposal are usually one entry: written three times, that was most of the row and
of the fsync'd write before every vote). 1: each record held its entry. Both read."""
T = TypeVar("T")


class StateCorrupt(ValueError):
    """The stored consensus state cannot be read back."""


def _packed(value: object | None) -> str | None:
    return None if value is None else encode(value).hex()


def _unpacked(text: Any, kind: type[T]) -> T | None:
    if text is None:
        return None
    if not isinstance(text, str):
        raise StateCorrupt(f"expected hex for {kind.__name__}")
    try:
        return decode(bytes.fromhex(text), kind)
    except (ValueError, DecodeError) as exc:
        raise StateCorrupt(f"{kind.__name__}: {exc}") from exc


class _Entries:
    """The distinct entries of a state being written, in order of first use (an entry
    is a frozen value: equal entries are one entry)."""

    def __init__(self) -> None:
        self._places: dict[Entry, int] = {}

    def place(self, entry: Entry | None) -> int | None:
        return None if entry is None else self._places.setdefault(entry, len(self._places))

    def packed(self) -> list[str]:
        return [encode(entry).hex() for entry in self._places]


def _vote_fields(vote: VoteRecord, entries: _Entries) -> list[Any]:
    return [vote.view, vote.attempt, vote.revision, vote.digest, vote.ok, vote.fast,
            entries.place(vote.entry)]


def encode_hard_state(state: HardState) -> bytes:
    vote = state.vote
    commit = state.commit_vote
    entries = _Entries()
    body = {
        "format": FORMAT,
        "view": state.view,
        "attempt": state.attempt,
        "head_revision": state.head_revision,
        "head_digest": state.head_digest,
        "vote": None if vote is None else _vote_fields(vote, entries),
        "reportable": [_vote_fields(v, entries) for v in state.reportable],
        "commit_vote": None
        if commit is None
        else [commit.view, commit.attempt, commit.revision, commit.digest],
        "lock": _packed(state.lock),
        "lock_entry": entries.place(state.lock_entry),
        "proposal": entries.place(state.proposal),
        "proposal_view": state.proposal_view,
        "proposal_attempt": state.proposal_attempt,
        "reputation": [[member, score] for member, score in state.reputation],
        "entries": entries.packed(),
    }
    return orjson.dumps(body)


def _int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise StateCorrupt("expected an integer")
    return value


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise StateCorrupt("expected a string")
    return value


def decode_hard_state(data: bytes) -> HardState:
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise StateCorrupt(f"not JSON: {exc}") from exc
    if not isinstance(body, dict) or body.get("format") not in (1, FORMAT):
        raise StateCorrupt("unknown consensus state format")
    try:
        entry_of = _entry_reader(body)
        vote_raw = body["vote"]
        vote = None if vote_raw is None else _vote_record(vote_raw, entry_of)
        # Rows written before `reportable` was stored lack it; the replica then
        # rebuilds it from `vote` (see Replica's restore path).
        reportable = tuple(_vote_record(raw, entry_of) for raw in body.get("reportable", ()))
        commit_raw = body["commit_vote"]
        commit = None
        if commit_raw is not None:
            commit = CommitVoteRecord(
                _int(commit_raw[0]), _int(commit_raw[1]), _int(commit_raw[2]), _str(commit_raw[3])
            )
        reputation = tuple((_str(m), float(s)) for m, s in body["reputation"])
        return HardState(
            view=_int(body["view"]),
            attempt=_int(body["attempt"]),
            head_revision=_int(body["head_revision"]),
            head_digest=_str(body["head_digest"]),
            vote=vote,
            commit_vote=commit,
            lock=_unpacked(body["lock"], PrepareCertificate),
            lock_entry=entry_of(body["lock_entry"]),
            proposal=entry_of(body["proposal"]),
            proposal_view=_int(body["proposal_view"]),
            proposal_attempt=_int(body["proposal_attempt"]),
            reputation=reputation,
            reportable=reportable,
        )
    except (KeyError, IndexError, TypeError) as exc:
        raise StateCorrupt(f"missing or malformed field: {exc}") from exc


def _entry_reader(body: dict[str, Any]) -> Callable[[Any], Entry | None]:
    """How the row names an entry: format 1 holds it (hex), format 2 its place in `entries`."""
    if body["format"] == 1:
        return lambda raw: _unpacked(raw, Entry)
    packed = body["entries"]
    if not isinstance(packed, list):
        raise StateCorrupt("expected a list of entries")
    decoded: dict[int, Entry | None] = {}

    def entry_of(place: Any) -> Entry | None:
        if place is None:
            return None
        where = _int(place)
        if not 0 <= where < len(packed):
            raise StateCorrupt(f"no entry {where} in the row")
        if where not in decoded:
            decoded[where] = _unpacked(packed[where], Entry)
        return decoded[where]

    return entry_of


def _vote_record(raw: Any, entry_of: Callable[[Any], Entry | None]) -> VoteRecord:
    entry = entry_of(raw[6])
    if entry is None:
        raise StateCorrupt("a vote without its entry")
    return VoteRecord(_int(raw[0]), _int(raw[1]), _int(raw[2]), _str(raw[3]),
                      bool(raw[4]), bool(raw[5]), entry)
