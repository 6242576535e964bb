"""Replicas broken on purpose, from outside the core, to prove the checker can fail.

The core dispatches messages through a table of its own methods, so the
subclasses hook `_dispatch` rather than the per-message handlers.
"""

from __future__ import annotations

from butterfly_config.consensus.messages import (
    CommitCertificate,
    CommitRequest,
    Decided,
    Message,
    Propose,
)
from butterfly_config.consensus.replica import Replica


class AppliesOnPrepareCertificate(Replica):
    """Skips the commit round: applies as soon as it locks on a prepare certificate."""

    def _dispatch(self, message: Message) -> None:
        super()._dispatch(message)
        if not isinstance(message, CommitRequest):
            return
        lock, entry = self._lock, self._lock_entry
        if lock is not None and entry is not None and entry.revision == self.head_revision + 1:
            cert = CommitCertificate(
                lock.view, lock.attempt, lock.revision, lock.digest, (), lock.votes
            )
            self._apply(Decided(entry, cert))


class VotesTwice(Replica):
    """Forgets its vote whenever a new proposal arrives, so it signs whatever comes next."""

    def _dispatch(self, message: Message) -> None:
        if isinstance(message, Propose):
            key = ("propose", message.sender, message.view, message.attempt, message.revision)
            self._seen.pop(key, None)
            self._responses.pop(message.ballot, None)
            self._vote = None
        super()._dispatch(message)
