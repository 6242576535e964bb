"""Byzantine behaviours for simulated members.

A Byzantine member runs a real Replica (its "puppet", holding the member's real
key) and a strategy that rewrites what goes in and out of it and injects
messages of its own. It can sign anything as itself and nothing as anyone else:
forgeries of other members carry bad signatures, as they would in reality.
All choices come from the run's rng. Twins (two honest replicas sharing one
identity) are not a strategy object: the simulator runs two instances.
"""

from __future__ import annotations

import dataclasses
import random
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from butterfly_config.consensus.crypto import Signer, sign_message
from butterfly_config.consensus.messages import (
    Abort,
    CommitCertificate,
    CommitRequest,
    CommitVote,
    ConfigApplied,
    Decided,
    Entry,
    FetchReply,
    Finalize,
    Message,
    PrepareCertificate,
    PrepareOk,
    PrepareReject,
    Propose,
    RejectKind,
    Status,
    ViewChange,
    make_entry,
)
from butterfly_config.consensus.params import ConsensusParams
from butterfly_config.consensus.replica import Replica
from butterfly_config.consensus.sim.world import sim_hash
from butterfly_config.consensus.state import Outbound

OTHER_CLUSTER = "some-other-cluster"


@dataclass(slots=True)
class Context:
    """What a Byzantine member has: its identity and key, the rng, what it saw."""

    identity: str
    signer: Signer
    rng: random.Random
    params: ConsensusParams
    invent: Callable[[bytes], None]
    """Report a document this member made up (it acts as its own client)."""
    puppet: Callable[[], Replica | None]
    seen: deque[Message] = field(default_factory=lambda: deque(maxlen=256))
    sent: deque[Message] = field(default_factory=lambda: deque(maxlen=64))
    counter: int = 0

    @property
    def others(self) -> list[str]:
        return [m for m in self.params.member_ids if m != self.identity]

    def sign(self, message: Message) -> Message:
        return sign_message(self.signer, message)

    def resign(self, message: Message, **changes: object) -> Message:
        """A copy of one of its own messages with some fields changed, signed again."""
        changed = dataclasses.replace(message, **changes, signature=b"")  # type: ignore[arg-type]
        return self.sign(changed)

    def to_all(self, message: Message) -> list[Outbound]:
        return [Outbound(m, message) for m in self.others]

    def header(self, revision: int, view: int, attempt: int = 0) -> tuple[str, str, int, int, int]:
        return (self.params.cluster_name, self.identity, view, attempt, revision)

    def head(self) -> Decided | None:
        puppet = self.puppet()
        return puppet.head if puppet is not None else None

    def ballot(self) -> tuple[int, int]:
        puppet = self.puppet()
        return puppet.ballot if puppet is not None else (0, 0)

    def invent_entry(self, revision: int, parent: str, *, valid: bool = True) -> Entry:
        """A made-up entry for `revision` (valid documents are reported as proposed)."""
        self.counter += 1
        tag = self.rng.randbytes(4).hex()
        document = (b"byz-" if valid else b"bad-byz-") + f"{self.identity}-{tag}".encode()
        if valid:
            self.invent(document)
        return make_entry(
            sim_hash, self.params.cluster_name, revision, parent, document,
            f"byz-{self.identity}-{self.counter}", self.identity,
        )


class Strategy:
    """Pass-through behaviour; subclasses override the hooks they need."""

    name: ClassVar[str] = ""
    prefers_coordinator: ClassVar[bool] = False
    """Placed at the coordinator's seat more often (its lies need that seat)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def inbound(self, message: Message) -> Sequence[Message]:
        return (message,)

    def outbound(self, out: Outbound) -> Sequence[Outbound]:
        return (out,)

    def tick(self, now_ms: int) -> Sequence[Outbound]:
        return ()


class Silent(Strategy):
    """Crashed-looking but alive: hears nothing, says nothing."""

    name = "silent"

    def inbound(self, message: Message) -> Sequence[Message]:
        return ()

    def outbound(self, out: Outbound) -> Sequence[Outbound]:
        return ()


class ShadowRounds:
    """Drives the PREPARE/COMMIT/FINALIZE rounds of entries the puppet never proposed.

    This is what makes equivocation dangerous: the liar collects the votes its
    second story earns and turns them into certificates when it can.
    """

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.entries: dict[str, tuple[Entry, tuple[int, int], frozenset[str]]] = {}
        self.oks: dict[str, dict[str, PrepareOk]] = {}
        self.commits: dict[str, dict[str, CommitVote]] = {}

    def start(self, entry: Entry, ballot: tuple[int, int], audience: frozenset[str]) -> None:
        if entry.digest in self.entries:
            return
        self.entries[entry.digest] = (entry, ballot, audience)
        fast = self.ctx.params.protocol == "optimistic_pbft"
        header = self.ctx.header(entry.revision, *ballot)
        own = self.ctx.sign(PrepareOk(*header, entry.digest, fast))
        assert isinstance(own, PrepareOk)
        self.oks[entry.digest] = {self.ctx.identity: own}
        self.commits[entry.digest] = {}

    def observe(self, message: Message) -> list[Outbound]:
        if isinstance(message, PrepareOk) and message.digest in self.entries:
            oks = self.oks[message.digest]
            before = len(oks)
            oks[message.sender] = message
            if before < self.ctx.params.quorum <= len(oks):
                return self._commit_request(message.digest)
        if isinstance(message, CommitVote) and message.digest in self.entries:
            votes = self.commits[message.digest]
            before = len(votes)
            votes[message.sender] = message
            if before < self.ctx.params.quorum <= len(votes):
                return self._finalize(message.digest)
        return []

    def _commit_request(self, digest: str) -> list[Outbound]:
        entry, (view, attempt), audience = self.entries[digest]
        votes = tuple(self.oks[digest][m] for m in sorted(self.oks[digest]))
        cert = PrepareCertificate(view, attempt, entry.revision, digest, votes)
        own = self.ctx.sign(CommitVote(*self.ctx.header(entry.revision, view, attempt), digest))
        assert isinstance(own, CommitVote)
        self.commits[digest][self.ctx.identity] = own
        request = self.ctx.sign(
            CommitRequest(*self.ctx.header(entry.revision, view, attempt), cert, entry)
        )
        return [Outbound(m, request) for m in sorted(audience)]

    def _finalize(self, digest: str) -> list[Outbound]:
        entry, (view, attempt), audience = self.entries[digest]
        votes = tuple(self.commits[digest][m] for m in sorted(self.commits[digest]))
        cert = CommitCertificate(view, attempt, entry.revision, digest, votes, ())
        final = self.ctx.sign(
            Finalize(*self.ctx.header(entry.revision, view, attempt), Decided(entry, cert))
        )
        return [Outbound(m, final) for m in sorted(audience)]


class EquivocatingCoordinator(Strategy):
    """As coordinator, tells part of the members one entry and the rest another."""

    name = "equivocate"
    prefers_coordinator = True

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.shadow = ShadowRounds(ctx)
        self._alternative: dict[tuple[int, int, int], tuple[Propose, frozenset[str]]] = {}
        self._pending: list[Outbound] = []

    def inbound(self, message: Message) -> Sequence[Message]:
        self._pending += self.shadow.observe(message)
        return (message,)

    def outbound(self, out: Outbound) -> Sequence[Outbound]:
        message = out.message
        if not isinstance(message, Propose):
            return (out,)
        key = (message.view, message.attempt, message.revision)
        if key not in self._alternative:
            others = self.ctx.others
            audience = frozenset(self.ctx.rng.sample(others, max(1, len(others) // 2 + 1)))
            entry = message.entry
            alt = self.ctx.invent_entry(entry.revision, entry.parent_digest)
            lie = self.ctx.resign(message, entry=alt)
            assert isinstance(lie, Propose)
            self._alternative[key] = (lie, audience)
            self.shadow.start(alt, message.ballot, audience)
        lie, audience = self._alternative[key]
        return (Outbound(out.to, lie),) if out.to in audience else (out,)

    def tick(self, now_ms: int) -> Sequence[Outbound]:
        out, self._pending = self._pending, []
        return out


class StaleReports(Strategy):
    """As coordinator, re-uses the reports of one revision's re-ballot for a later revision.

    The attempt counter restarts with every revision, so the reports that
    justified ballot (v, a) at revision r also name ballot (v, a) at r + 1.
    This liar provokes re-ballots (it aborts its own proposals at random),
    keeps the reports they bring, and once the members have voted for its
    proposal at (v, 0) of a later revision, proposes a second entry at (v, a)
    with those older reports, drives that entry's rounds itself, and keeps the
    first entry's FINALIZE from the members it told the second story to.
    """

    name = "stale_reports"
    prefers_coordinator = True

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.shadow = ShadowRounds(ctx)
        self._reports: dict[tuple[int, int, int], dict[str, ViewChange]] = {}
        self._provoked: set[tuple[int, int, int]] = set()
        self._attacked: dict[int, frozenset[str]] = {}
        self._proposals: dict[tuple[int, int, int], Propose] = {}
        self._oks: dict[tuple[int, int, int], set[str]] = {}
        self._pending: list[Outbound] = []

    def inbound(self, message: Message) -> Sequence[Message]:
        if isinstance(message, ViewChange) and message.attempt > 0:
            key = (message.view, message.attempt, message.revision)
            self._reports.setdefault(key, {})[message.sender] = message
        if isinstance(message, PrepareOk):
            key = (message.view, message.attempt, message.revision)
            proposal = self._proposals.get(key)
            if proposal is not None and message.digest == proposal.entry.digest:
                self._oks.setdefault(key, set()).add(message.sender)
                if len(self._oks[key]) >= len(self.ctx.others):
                    self._attack(proposal)
        self._pending += self.shadow.observe(message)
        return (message,)

    def outbound(self, out: Outbound) -> Sequence[Outbound]:
        message = out.message
        if isinstance(message, Finalize) and out.to in self._attacked.get(message.revision, ()):
            return ()  # these members hear only the second story
        if not isinstance(message, Propose) or message.attempt != 0:
            return (out,)
        key = (message.view, message.attempt, message.revision)
        self._proposals[key] = message
        if key not in self._provoked and self.ctx.rng.random() < 0.3:
            self._provoked.add(key)
            entry = message.entry
            abort = self.ctx.sign(Abort(
                *self.ctx.header(message.revision, message.view, message.attempt),
                digest=entry.digest, request_id=entry.request_id, origin=entry.origin,
                reason="provoked", rejects=(),
            ))
            self._pending += self.ctx.to_all(abort)
        return (out,)

    def _attack(self, proposal: Propose) -> None:
        """Propose a second entry for `proposal`'s revision on an older revision's reports."""
        revision = proposal.revision
        if revision in self._attacked:
            return
        quorum = self.ctx.params.quorum
        usable = sorted(
            (key for key, reports in self._reports.items()
             if key[0] == proposal.view and key[2] < revision and len(reports) >= quorum),
            reverse=True,
        )
        if not usable:
            return
        view, attempt, _ = usable[0]
        reports = self._reports[usable[0]]
        justification = tuple(reports[m] for m in sorted(reports))
        entry = proposal.entry
        alt = self.ctx.invent_entry(revision, entry.parent_digest)
        lie = self.ctx.resign(proposal, attempt=attempt, entry=alt, justification=justification)
        others = self.ctx.others
        audience = frozenset(self.ctx.rng.sample(others, min(len(others) - 1, quorum - 1)))
        if not audience:
            return
        self._attacked[revision] = audience
        self.shadow.start(alt, (view, attempt), audience)
        self._pending += self.ctx.to_all(lie)

    def tick(self, now_ms: int) -> Sequence[Outbound]:
        out, self._pending = self._pending, []
        return out


class WrongHashVoter(Strategy):
    """Votes, but mostly for digests nobody proposed."""

    name = "wrong_hash"

    def outbound(self, out: Outbound) -> Sequence[Outbound]:
        message = out.message
        voting = isinstance(message, PrepareOk | CommitVote | ConfigApplied | PrepareReject)
        if voting and self.ctx.rng.random() < 0.8:
            bogus = sim_hash(self.ctx.rng.randbytes(8))
            return (Outbound(out.to, self.ctx.resign(message, digest=bogus)),)
        return (out,)


class Forger(Strategy):
    """Sends tampered messages: bad signatures, other members' names, edited copies."""

    name = "forge"

    def outbound(self, out: Outbound) -> Sequence[Outbound]:
        if self.ctx.rng.random() < 0.5:
            return (out, Outbound(out.to, self._forge(out.message)))
        return (out,)

    def _forge(self, message: Message) -> Message:
        ctx, choice = self.ctx, self.ctx.rng.randrange(3)
        if choice == 0:
            sig = bytearray(message.signature or b"\x00")
            sig[ctx.rng.randrange(len(sig))] ^= 0x5A
            return dataclasses.replace(message, signature=bytes(sig))
        if choice == 1:
            victim = ctx.rng.choice(ctx.others)
            impersonated = dataclasses.replace(message, sender=victim, signature=b"")
            return impersonated.with_signature(ctx.signer.sign(impersonated.signing_bytes()))
        foreign = [m for m in ctx.seen if m.sender != ctx.identity]
        if not foreign:
            return dataclasses.replace(message, revision=message.revision + 1)
        original: Any = ctx.rng.choice(foreign)
        if hasattr(original, "digest"):
            tampered: Message = dataclasses.replace(original, digest=sim_hash(ctx.rng.randbytes(8)))
            return tampered
        edited: Message = dataclasses.replace(original, view=original.view + 1)
        return edited

    def tick(self, now_ms: int) -> Sequence[Outbound]:
        """Now and then: a FINALIZE whose commit votes claim to be other members'."""
        head = self.ctx.head()
        if head is None or self.ctx.rng.random() > 0.05:
            return ()
        ctx = self.ctx
        entry = ctx.invent_entry(head.entry.revision + 1, head.entry.digest)
        view, attempt = ctx.ballot()
        votes = []
        for member in sorted(ctx.rng.sample(ctx.params.member_ids, ctx.params.quorum)):
            vote = CommitVote(ctx.params.cluster_name, member, view, attempt, entry.revision,
                              entry.digest)
            votes.append(vote.with_signature(ctx.signer.sign(vote.signing_bytes())))
        cert = CommitCertificate(view, attempt, entry.revision, entry.digest, tuple(votes), ())
        final = ctx.sign(Finalize(*ctx.header(entry.revision, view, attempt), Decided(entry, cert)))
        return ctx.to_all(final)


class Replayer(Strategy):
    """Resends old messages (other views and revisions) and its own from another cluster."""

    name = "replay"

    def inbound(self, message: Message) -> Sequence[Message]:
        return (message,)

    def outbound(self, out: Outbound) -> Sequence[Outbound]:
        self.ctx.sent.append(out.message)
        return (out,)

    def tick(self, now_ms: int) -> Sequence[Outbound]:
        ctx, out = self.ctx, []
        if ctx.seen and ctx.rng.random() < 0.3:
            for _ in range(ctx.rng.randint(1, 3)):
                old = ctx.rng.choice(ctx.seen)
                out.append(Outbound(ctx.rng.choice(ctx.others), old))
        if ctx.sent and ctx.rng.random() < 0.1:
            mine = ctx.rng.choice(ctx.sent)
            out += ctx.to_all(ctx.resign(mine, cluster=OTHER_CLUSTER))
        return out


class BogusCertificates(Strategy):
    """Sends certificates that must not convince anyone: duplicates, strangers, too few."""

    name = "bogus_cert"
    prefers_coordinator = True

    def tick(self, now_ms: int) -> Sequence[Outbound]:
        ctx = self.ctx
        head = ctx.head()
        if head is None or ctx.rng.random() > 0.15:
            return ()
        view, attempt = ctx.ballot()
        revision = head.entry.revision + 1
        entry = ctx.invent_entry(revision, head.entry.digest)
        real = [m for m in ctx.seen if isinstance(m, CommitRequest) and m.revision == revision]
        q = ctx.params.quorum
        mode = ctx.rng.randrange(4)
        own_vote = ctx.sign(CommitVote(*ctx.header(revision, view, attempt), entry.digest))
        assert isinstance(own_vote, CommitVote)
        if mode == 0:  # one signature counted q times
            votes: tuple[CommitVote, ...] = (own_vote,) * q
        elif mode == 1:  # signers nobody knows
            strangers = []
            for i in range(q - 1):
                vote = CommitVote(ctx.params.cluster_name, f"intruder{i}", view, attempt,
                                  revision, entry.digest)
                strangers.append(vote.with_signature(ctx.signer.sign(vote.signing_bytes())))
            votes = (own_vote, *strangers)
        elif mode == 2 and real:  # genuine prepare votes, one short of a quorum, as a cert
            request = real[-1]
            entry = request.entry
            oks = request.certificate.votes[: q - 1]
            cert = CommitCertificate(request.view, request.attempt, revision, entry.digest, (),
                                     tuple(oks))
            return self._send(entry, cert)
        else:  # a prepare certificate of one vote
            ok = ctx.sign(PrepareOk(*ctx.header(revision, view, attempt), entry.digest, False))
            assert isinstance(ok, PrepareOk)
            pc = PrepareCertificate(view, attempt, revision, entry.digest, (ok,))
            lone = ctx.sign(CommitRequest(*ctx.header(revision, view, attempt), pc, entry))
            return ctx.to_all(lone)
        cert = CommitCertificate(view, attempt, revision, entry.digest, votes, ())
        return self._send(entry, cert)

    def _send(self, entry: Entry, cert: CommitCertificate) -> list[Outbound]:
        ctx = self.ctx
        decided = Decided(entry, cert)
        if ctx.rng.random() < 0.5:
            message = ctx.sign(Finalize(*ctx.header(entry.revision, cert.view, cert.attempt),
                                        decided))
        else:
            message = ctx.sign(FetchReply(*ctx.header(entry.revision, cert.view), (decided,)))
        return ctx.to_all(message)


class RejectEverything(Strategy):
    """Answers every proposal with PREPARE_REJECT and never votes to commit."""

    name = "reject_all"

    def outbound(self, out: Outbound) -> Sequence[Outbound]:
        message = out.message
        if isinstance(message, CommitVote):
            return ()
        if isinstance(message, PrepareOk):
            kind: RejectKind = "invalid" if self.ctx.rng.random() < 0.5 else "veto"
            reject = PrepareReject(
                *self.ctx.header(message.revision, message.view, message.attempt),
                digest=message.digest, kind=kind, reason="refused by policy",
            )
            return (Outbound(out.to, self.ctx.sign(reject)),)
        return (out,)


class VoteForEverything(Strategy):
    """Votes PREPARE_OK and COMMIT for every proposal it hears of, whatever it voted before."""

    name = "vote_all"

    def inbound(self, message: Message) -> Sequence[Message]:
        ctx = self.ctx
        extra: Message | None = None
        if isinstance(message, Propose):
            extra = PrepareOk(*ctx.header(message.revision, message.view, message.attempt),
                              message.entry.digest, message.fast)
        elif isinstance(message, CommitRequest):
            extra = CommitVote(*ctx.header(message.revision, message.view, message.attempt),
                               message.certificate.digest)
        if extra is not None:
            self._pending.append(Outbound(message.sender, ctx.sign(extra)))
        return (message,)

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._pending: list[Outbound] = []

    def tick(self, now_ms: int) -> Sequence[Outbound]:
        out, self._pending = self._pending, []
        return out


class StaleViewSpammer(Strategy):
    """Floods view-change reports for old views and far-future ones, and stale heads."""

    name = "stale_view"

    def tick(self, now_ms: int) -> Sequence[Outbound]:
        ctx = self.ctx
        puppet = ctx.puppet()
        if puppet is None or ctx.rng.random() > 0.4:
            return ()
        view = puppet.view
        target = (
            ctx.rng.randint(0, view) if ctx.rng.random() < 0.6
            else view + ctx.rng.randint(1, 20)
        )
        report = ViewChange(
            *ctx.header(puppet.head_revision + 1, target), head=puppet.head, lock=None,
            lock_entry=None, vote_view=-1, vote_attempt=-1, vote_fast=False, vote_entry=None,
        )
        out = ctx.to_all(ctx.sign(report))
        if puppet.head_revision > 0:
            stale = ctx.rng.randrange(puppet.head_revision)
            old = puppet.decided(stale)
            assert old is not None  # every revision up to the head is in memory or on disk
            status = Status(*ctx.header(stale, view), head_digest=old.entry.digest)
            out += ctx.to_all(ctx.sign(status))
        return out


class InvalidProposer(Strategy):
    """As coordinator, proposes documents that fail validation."""

    name = "invalid_coordinator"
    prefers_coordinator = True

    def outbound(self, out: Outbound) -> Sequence[Outbound]:
        message = out.message
        if isinstance(message, Propose):
            entry = message.entry
            bad = self._bad.get(entry.digest)
            if bad is None:
                bad = self.ctx.invent_entry(entry.revision, entry.parent_digest, valid=False)
                self._bad[entry.digest] = bad
            return (Outbound(out.to, self.ctx.resign(message, entry=bad)),)
        return (out,)

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._bad: dict[str, Entry] = {}


STRATEGIES: dict[str, type[Strategy]] = {
    cls.name: cls
    for cls in (
        Silent,
        EquivocatingCoordinator,
        StaleReports,
        WrongHashVoter,
        Forger,
        Replayer,
        BogusCertificates,
        RejectEverything,
        VoteForEverything,
        StaleViewSpammer,
        InvalidProposer,
    )
}
TWINS = "twins"
STRATEGY_NAMES: tuple[str, ...] = (*STRATEGIES, TWINS)
COORDINATOR_SEEKERS = frozenset(
    name for name, cls in STRATEGIES.items() if cls.prefers_coordinator
) | {TWINS}
