"""The stored consensus hard state reads back exactly as it was written."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from butterfly_config.consensus.messages import Finalize
from butterfly_config.consensus.state import HardState
from butterfly_config.node.state_codec import StateCorrupt, decode_hard_state, encode_hard_state

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "consensus"))
from consensus_harness import Harness, make_params


def locked_state() -> HardState:
    """A member's hard state after it voted and locked but saw no FINALIZE."""
    harness = Harness(make_params(4, protocol="standard_pbft"))
    harness.drop = lambda _sender, _to, message: isinstance(message, Finalize)
    harness.propose("n0", "req-1", b"document-1")
    harness.run()
    state = harness.disks["n1"].hard_state
    assert state is not None and state.vote is not None and state.lock is not None
    return state


def test_every_field_round_trips_including_reportable_votes() -> None:
    state = locked_state()
    assert state.vote is not None
    older = replace(state.vote, view=state.vote.view, attempt=state.vote.attempt + 1)
    full = replace(state, reportable=(state.vote, older))
    assert decode_hard_state(encode_hard_state(full)) == full


def test_a_row_written_without_reportable_still_reads() -> None:
    state = locked_state()
    body = orjson.loads(encode_hard_state(state))
    del body["reportable"]
    restored = decode_hard_state(orjson.dumps(body))
    assert restored == replace(state, reportable=())


@pytest.mark.parametrize(
    "damage",
    [
        lambda body: body.update(view="1"),
        lambda body: body.update(lock="zz"),
        lambda body: body.update(reportable=[[0, 0, 1, "d", True, False, None]]),
        lambda body: body.pop("head_digest"),
        lambda body: body.update(format=99),
    ],
)
def test_damaged_rows_are_errors_never_a_wrong_state(damage) -> None:  # type: ignore[no-untyped-def]
    body = orjson.loads(encode_hard_state(locked_state()))
    damage(body)
    with pytest.raises(StateCorrupt):
        decode_hard_state(orjson.dumps(body))


def _as_format_1(body: dict[str, object]) -> dict[str, object]:
    """The row as format 1 wrote it: each record holding its entry."""
    entries = body.pop("entries")
    assert isinstance(entries, list)

    def held(place: object) -> object:
        return None if place is None else entries[place]  # type: ignore[index]

    for vote in [body["vote"], *body["reportable"]]:  # type: ignore[misc]
        if vote is not None:
            vote[6] = held(vote[6])
    body["lock_entry"] = held(body["lock_entry"])
    body["proposal"] = held(body["proposal"])
    body["format"] = 1
    return body


def test_an_entry_held_by_several_records_is_written_once() -> None:
    state = locked_state()
    assert state.vote is not None
    full = replace(state, reportable=(state.vote,), proposal=state.vote.entry)
    body = orjson.loads(encode_hard_state(full))
    assert len(body["entries"]) == 1
    assert body["vote"][6] == body["reportable"][0][6] == body["proposal"] == 0
    assert decode_hard_state(orjson.dumps(body)) == full


def test_a_row_of_format_1_still_reads() -> None:
    state = locked_state()
    assert state.vote is not None
    full = replace(state, reportable=(state.vote,), proposal=state.vote.entry)
    old_row = orjson.dumps(_as_format_1(orjson.loads(encode_hard_state(full))))
    assert decode_hard_state(old_row) == full


@pytest.mark.parametrize("place", [5, -1, "0", 1.0])
def test_a_record_naming_no_entry_of_the_row_is_damage(place: object) -> None:
    body = orjson.loads(encode_hard_state(locked_state()))
    body["vote"][6] = place
    with pytest.raises(StateCorrupt):
        decode_hard_state(orjson.dumps(body))
