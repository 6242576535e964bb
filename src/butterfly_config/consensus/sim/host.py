"""One simulated process: a replica, its disk, and whether it is up.

`Durable` is the disk: only what a Ready asked to persist (committed revisions
and the hard state) is written there, and it is all that survives a crash. A
restart builds a brand-new Replica from it, exactly as the node runtime does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from butterfly_config.consensus.crypto import Signer
from butterfly_config.consensus.messages import Decided
from butterfly_config.consensus.replica import Replica, Validator
from butterfly_config.consensus.sim.world import World, sim_hash
from butterfly_config.consensus.state import HardState

SIM_RETAINED_REVISIONS = 1
"""Decided revisions a simulated replica keeps in memory (see Replica)."""


@dataclass(slots=True)
class Durable:
    """What is on a member's disk: the committed log and the last hard state."""

    log: list[Decided]
    hard_state: HardState | None = None
    writes: int = 0


@dataclass(slots=True)
class Instance:
    """A process running one replica. Twins are two instances of one identity."""

    name: str
    identity: str
    signer: Signer
    validate: Validator
    honest: bool
    durable: Durable
    replica: Replica | None = None
    crash_after_persist: bool = False
    starts: int = 0
    pending: set[str] = field(default_factory=set)
    """Request ids proposed to this process and not answered yet."""

    @property
    def up(self) -> bool:
        return self.replica is not None

    def start(self, world: World, now_ms: int, replica_class: type[Replica] = Replica) -> Replica:
        """Boot (or reboot) from disk; the new replica knows only what was persisted."""
        keyring = world.keyring()
        self.replica = replica_class(
            world.params,
            self.signer,
            self.validate,
            sim_hash,
            list(self.durable.log),
            hard_state=self.durable.hard_state,
            now_ms=now_ms,
            keyring=keyring,
            # keep almost nothing in memory, so that every run also serves FETCHes
            # from the durable log, as a node does from its store
            history_source=lambda first, count: self.durable.log[first : first + count],
            retained_revisions=SIM_RETAINED_REVISIONS,
        )
        self.starts += 1
        return self.replica

    def crash(self) -> None:
        """Lose everything in memory; the disk stays. Unanswered requests die with it."""
        self.replica = None
        self.crash_after_persist = False
        self.pending.clear()
