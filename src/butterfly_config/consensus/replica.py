"""The replica: the consensus protocol as a pure state machine.

No I/O, no clock, no threads. The caller feeds it messages (`step`), time
(`tick`) and client proposals (`propose`), and collects `Ready` batches of
state to persist, messages to send, revisions to apply and events.
See docs/consensus.md for the protocol and its safety argument.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from butterfly_config.consensus.crypto import KeyRing, Signer
from butterfly_config.consensus.messages import Decided, HashFn, Message
from butterfly_config.consensus.params import ConsensusParams
from butterfly_config.consensus.state import HardState, MemberState, Ready, Verdict

Validator = Callable[[bytes, bytes], Verdict]
"""validate(proposed_document, current_head_document) -> Verdict."""


class Replica:
    """One member's view of the protocol.

    `log` is the committed history the caller loaded (revision 0 first, then
    every committed revision in order); `hard_state` the last persisted
    HardState, or None on first boot.
    """

    def __init__(
        self,
        params: ConsensusParams,
        signer: Signer,
        validate: Validator,
        hash_fn: HashFn,
        log: Sequence[Decided],
        hard_state: HardState | None = None,
        now_ms: int = 0,
        keyring: KeyRing | None = None,
    ) -> None:
        raise NotImplementedError

    # -- inputs
    def propose(self, request_id: str, document: bytes, initiator: str = "") -> None:
        """Start (or forward to the coordinator) a cluster-wide change."""
        raise NotImplementedError

    def step(self, message: Message) -> None:
        """Handle one message from a peer (signature checked here)."""
        raise NotImplementedError

    def tick(self, now_ms: int) -> None:
        """Advance the replica's notion of time (monotonic milliseconds)."""
        raise NotImplementedError

    def suspect_coordinator(self) -> None:
        """The failure detector suspects the coordinator: start a view change now."""
        raise NotImplementedError

    def request_sync(self) -> None:
        """Ask every peer for its head now (butterfly config sync)."""
        raise NotImplementedError

    def set_params(self, params: ConsensusParams) -> None:
        """Swap timeouts/reputation/protocol live (membership may not change).

        Call it when applying the committed revision that changed them, before
        stepping any further message, so every member switches at the same
        revision.
        """
        raise NotImplementedError

    def reset_reputation(self, member: str) -> None:
        """Operator action: give an isolated member a fresh start."""
        raise NotImplementedError

    # -- outputs
    def has_ready(self) -> bool:
        raise NotImplementedError

    def ready(self) -> Ready:
        raise NotImplementedError

    def advance(self, ready: Ready) -> None:
        raise NotImplementedError

    # -- read-only status
    @property
    def node_id(self) -> str:
        raise NotImplementedError

    @property
    def view(self) -> int:
        raise NotImplementedError

    @property
    def coordinator(self) -> str:
        raise NotImplementedError

    @property
    def head(self) -> Decided:
        raise NotImplementedError

    @property
    def in_flight(self) -> bool:
        """True while this replica knows of an update being agreed."""
        raise NotImplementedError

    def reputation(self, member: str) -> float:
        raise NotImplementedError

    def member_state(self, member: str) -> MemberState:
        raise NotImplementedError
