"""Bounded exhaustive exploration of message interleavings (a small model checker).

The smallest interesting case: n = 4, f = 1, the coordinator of view 0 is
Byzantine and equivocates between two conflicting client proposals A and B. It
sends both PROPOSEs to every honest member (each accepts whichever arrives
first), counts the votes each story earns, and turns any quorum into COMMIT and
FINALIZE messages, exactly like `byzantine.ShadowRounds`. The liar hears votes
the moment they are sent (an adversary that never misses a vote); what it
sends back may still be delayed or lost, since its messages wait in flight. The three honest
members are real Replicas. There is no clock: every state's successors are the
deliveries of each message in flight, in any order; leaving a message in flight
forever covers its loss, since every prefix of a run is a state we check.

Search: depth-first over delivery choices, with states deduplicated by a
canonical fingerprint of every replica's memory, the adversary's and the
multiset of messages in flight. Replica memory is copied with `copy.deepcopy`,
sharing the immutable protocol records (and keys) instead of copying them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from butterfly_config.consensus import messages as msgs
from butterfly_config.consensus.certificates import Verifier
from butterfly_config.consensus.crypto import KeyRing, sign_message
from butterfly_config.consensus.messages import (
    CommitCertificate,
    CommitRequest,
    CommitVote,
    Decided,
    Finalize,
    Message,
    PrepareCertificate,
    PrepareOk,
    Propose,
    ViewChange,
    make_entry,
)
from butterfly_config.consensus.replica import Replica
from butterfly_config.consensus.sim.checker import InvariantChecker, false_evidence
from butterfly_config.consensus.sim.world import World, build_world, sim_hash, validate
from butterfly_config.consensus.state import EvidenceFound

TIMEOUT_STEP_MS = 60_000
"""How far a timeout move advances a member's clock: past every protocol timer."""

_SKIP_ATTRS = frozenset(
    {"_signer", "_keyring", "_verifier", "_validate", "_hash", "_params", "_now"}
)


@dataclass(frozen=True, slots=True)
class Adversary:
    """The equivocating coordinator's memory: votes gathered per digest, what it sent."""

    oks: tuple[tuple[str, tuple[PrepareOk, ...]], ...] = ()
    commits: tuple[tuple[str, tuple[CommitVote, ...]], ...] = ()


@dataclass(slots=True)
class State:
    replicas: dict[str, Replica]
    adversary: Adversary
    in_flight: tuple[tuple[str, Message], ...]
    applied: dict[str, tuple[str, ...]]
    votes: dict[tuple[str, str, int, int, int], str]
    prints: dict[str, str] = field(default_factory=dict)
    """Canonical text of each replica's memory (recomputed only for the one that moved)."""
    clock: int = 0
    timeouts: int = 0


@dataclass(slots=True)
class ExploreResult:
    states: int = 0
    transitions: int = 0
    deepest: int = 0
    cut_at_depth: int = 0
    """States whose successors were not explored because of the depth bound."""
    decided_runs: int = 0
    """Distinct states in which some honest member had applied revision 1."""
    digests_decided: set[str] = field(default_factory=set)
    highest_view: int = 0
    """The highest view any honest member reached (above 0 only with timeout moves)."""
    violations: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.cut_at_depth == 0


class Explorer:
    def __init__(
        self,
        *,
        seed: int = 0,
        depth: int = 60,
        max_states: int = 500_000,
        replica_class: type[Replica] = Replica,
        timeouts: int = 0,
    ) -> None:
        self.replica_class = replica_class
        self.timeouts = timeouts
        self.world: World = build_world(random.Random(seed), 4, 1)
        self.depth = depth
        self.max_states = max_states
        self.q = self.world.params.quorum
        self.liar = self.world.members[0]
        self.honest = self.world.members[1:]
        keyring = self.world.keyring()
        self.checker = InvariantChecker(
            cluster=self.world.params.cluster_name, members=self.world.members, quorum=self.q,
            keyring=keyring, hash_fn=sim_hash, validate=lambda d: None,
            genesis=self.world.genesis.entry, params=self.world.params,
        )
        self._keyring = keyring
        self._fingerprints: dict[int, tuple[object, str]] = {}
        self.entries = {
            name: make_entry(sim_hash, self.world.params.cluster_name, 1,
                             self.world.genesis.entry.digest, doc, f"req-{name}", self.liar)
            for name, doc in (("A", b"cfg-A"), ("B", b"cfg-B"))
        }

    # -- building blocks -----------------------------------------------------------
    def _sign(self, message: Message) -> Message:
        return sign_message(self.world.signers[self.liar], message)

    def initial(self) -> State:
        replicas = {}
        for member in self.honest:
            replicas[member] = self.replica_class(
                self.world.params, self.world.signers[member], validate, sim_hash,
                [self.world.genesis], keyring=self._keyring,
            )
        st = State(replicas, Adversary(), (), {m: () for m in self.honest}, {})
        fast = self.world.params.protocol == "optimistic_pbft"
        sent: list[tuple[str, Message]] = []
        for entry in self.entries.values():
            propose = self._sign(Propose(self.world.params.cluster_name, self.liar, 0, 0, 1,
                                         entry, fast, ()))
            sent += [(m, propose) for m in self.honest]
        for member in self.honest:
            sent += self._drain(st, member)
        st.in_flight = tuple(sent)
        return st

    def _drain(self, st: State, member: str) -> list[tuple[str, Message]]:
        """The caller's Ready loop, with the checks of the simulator."""
        replica = st.replicas[member]
        out: list[tuple[str, Message]] = []
        while replica.has_ready():
            ready = replica.ready()
            for decided in ready.committed:
                self._on_apply(st, member, decided)
            for o in ready.messages:
                if isinstance(o.message, PrepareOk | CommitVote):
                    self._on_vote(st, member, o.message)
                elif isinstance(o.message, ViewChange):
                    problem = self.checker.report_problem(o.message)
                    if problem is not None:
                        self._violation(f"valid reports: {member}'s report cannot justify "
                                        f"{o.message.ballot}: {problem}")
                if o.to in st.replicas:
                    out.append((o.to, o.message))
                elif o.to == self.liar:  # the liar hears its votes at once (see module doc)
                    out += self._adversary_receives(st, o.message)
            for event in ready.events:
                if isinstance(event, EvidenceFound) and (problem := false_evidence(
                        event, accused_honest=event.member in st.replicas)):
                    self._violation(f"no false evidence: {member} found {problem}")
            replica.advance(ready)
        return out

    def _on_apply(self, st: State, member: str, decided: Decided) -> None:
        entry = decided.entry
        problem = self.checker.certificate_problem(entry, decided.certificate)
        if problem:
            self._violation(f"{member} applied revision {entry.revision} without a valid "
                            f"certificate: {problem}")
        st.applied[member] = (*st.applied[member], entry.digest)
        for other, digests in st.applied.items():
            if len(digests) >= entry.revision and digests[entry.revision - 1] != entry.digest:
                self._violation(f"agreement: {member} and {other} applied different entries "
                                f"at revision {entry.revision}")

    def _on_vote(self, st: State, member: str, vote: PrepareOk | CommitVote) -> None:
        key = (type(vote).__name__, member, vote.view, vote.attempt, vote.revision)
        first = st.votes.setdefault(key, vote.digest)
        if first != vote.digest:
            self._violation(f"{member} signed two {key[0]} digests in ballot "
                            f"({vote.view},{vote.attempt})")

    def _adversary_receives(self, st: State, message: Message) -> list[tuple[str, Message]]:
        """The liar counts the vote and certifies whatever reached a quorum."""
        adv = st.adversary
        cluster = self.world.params.cluster_name
        if isinstance(message, PrepareOk):
            oks = dict(adv.oks)
            votes = oks.get(message.digest, ())
            if any(v.sender == message.sender for v in votes):
                return []
            if not votes:
                votes = (self._own_ok(message.digest, message.fast),)
            votes = (*votes, message)
            oks[message.digest] = votes
            st.adversary = dataclasses.replace(adv, oks=tuple(sorted(oks.items())))
            if len(votes) != self.q:
                return []
            entry = self._entry(message.digest)
            cert = PrepareCertificate(0, 0, 1, message.digest,
                                      tuple(sorted(votes, key=lambda v: v.sender)))
            request = self._sign(CommitRequest(cluster, self.liar, 0, 0, 1, cert, entry))
            return [(m, request) for m in self.honest]
        if isinstance(message, CommitVote):
            commits = dict(adv.commits)
            cvotes = commits.get(message.digest, ())
            if any(v.sender == message.sender for v in cvotes):
                return []
            if not cvotes:
                own = self._sign(CommitVote(cluster, self.liar, 0, 0, 1, message.digest))
                assert isinstance(own, CommitVote)
                cvotes = (own,)
            cvotes = (*cvotes, message)
            commits[message.digest] = cvotes
            st.adversary = dataclasses.replace(adv, commits=tuple(sorted(commits.items())))
            if len(cvotes) != self.q:
                return []
            commit_cert = CommitCertificate(0, 0, 1, message.digest,
                                            tuple(sorted(cvotes, key=lambda v: v.sender)), ())
            final = self._sign(Finalize(cluster, self.liar, 0, 0, 1,
                                        Decided(self._entry(message.digest), commit_cert)))
            return [(m, final) for m in self.honest]
        return []

    def _own_ok(self, digest: str, fast: bool) -> PrepareOk:
        ok = self._sign(PrepareOk(self.world.params.cluster_name, self.liar, 0, 0, 1, digest, fast))
        assert isinstance(ok, PrepareOk)
        return ok

    def _entry(self, digest: str) -> msgs.Entry:
        return next(e for e in self.entries.values() if e.digest == digest)

    def _violation(self, text: str) -> None:
        if text not in self._current_violations:
            self._current_violations.append(text)

    # -- the search --------------------------------------------------------------------
    def timeout(self, st: State, member: str) -> State:
        """Let one honest member's timers expire (its view-change timer among them)."""
        nxt = State(dict(st.replicas), st.adversary, (), dict(st.applied), dict(st.votes),
                    dict(st.prints), st.clock + TIMEOUT_STEP_MS, st.timeouts + 1)
        replica = _clone(st.replicas[member])
        assert isinstance(replica, Replica)
        nxt.replicas[member] = replica
        replica.tick(nxt.clock)
        nxt.in_flight = st.in_flight + tuple(self._drain(nxt, member))
        nxt.prints[member] = self._canonical(vars(replica))
        return nxt

    def successor(self, st: State, index: int) -> State:
        """Deliver in-flight message `index`; only its receiver is copied (copy on write)."""
        to, message = st.in_flight[index]
        nxt = State(dict(st.replicas), st.adversary, (), dict(st.applied), dict(st.votes),
                    dict(st.prints), st.clock, st.timeouts)
        rest = list(st.in_flight[:index] + st.in_flight[index + 1:])
        if to == self.liar:
            rest += self._adversary_receives(nxt, message)
        else:
            replica = _clone(st.replicas[to])
            assert isinstance(replica, Replica)
            nxt.replicas[to] = replica
            replica.step(message)
            rest += self._drain(nxt, to)
            nxt.prints[to] = self._canonical(vars(replica))
        nxt.in_flight = tuple(rest)
        return nxt

    def fingerprint(self, st: State) -> str:
        h = hashlib.blake2b(digest_size=20)
        for member in self.honest:
            if member not in st.prints:
                st.prints[member] = self._canonical(vars(st.replicas[member]))
            h.update(st.prints[member].encode())
        h.update(self._canonical(st.adversary).encode())
        h.update(b"%d" % st.timeouts)
        h.update(repr(sorted(f"{to}:{self._canonical(m)}" for to, m in st.in_flight)).encode())
        return h.hexdigest()

    def _canonical(self, obj: object) -> str:
        """A text that is equal for equal states (dict and set order ignored)."""
        cls = type(obj)
        if cls in _PRIMITIVES:
            return repr(obj)
        hit = self._fingerprints.get(id(obj))
        if hit is not None and hit[0] is obj:
            return hit[1]
        frozen = _is_frozen(cls)
        if isinstance(obj, dict) and cls is dict:
            items = sorted(
                (self._canonical(k), self._canonical(v))
                for k, v in obj.items()
                if not (isinstance(k, str) and k in _SKIP_ATTRS)
            )
            text = "{" + ",".join(f"{k}:{v}" for k, v in items) + "}"
        elif isinstance(obj, set | frozenset):
            text = "{" + ",".join(sorted(self._canonical(x) for x in obj)) + "}"
        elif isinstance(obj, list | tuple | deque):
            text = "[" + ",".join(self._canonical(x) for x in obj) + "]"
        elif dataclasses.is_dataclass(obj):
            parts = (self._canonical(getattr(obj, f.name)) for f in dataclasses.fields(obj))
            text = cls.__name__ + "(" + ",".join(parts) + ")"
        elif hasattr(obj, "__dict__"):
            text = cls.__name__ + self._canonical(
                {k: v for k, v in vars(obj).items() if k != "params"}
            )
        else:
            text = repr(obj)
        if frozen:
            self._fingerprints[id(obj)] = (obj, text)
        return text

    def _successors(self, st: State) -> Iterator[State]:
        """Timeout moves first: the stack pops them last, so deliveries are searched first."""
        if st.timeouts < self.timeouts:
            for member in self.honest:
                if st.replicas[member].in_flight:  # an idle member's timers change nothing
                    yield self.timeout(st, member)
        tried: set[str] = set()
        for index, (to, message) in enumerate(st.in_flight):
            key = f"{to}:{self._canonical(message)}"
            if key in tried:  # two copies of one message: delivering either is the same
                continue
            tried.add(key)
            yield self.successor(st, index)

    def run(self) -> ExploreResult:
        result = ExploreResult()
        self._current_violations: list[str] = []
        root = self.initial()
        seen = {self.fingerprint(root): 0}
        stack: list[tuple[State, int]] = [(root, 0)]
        result.states = 1
        while stack:
            st, depth = stack.pop()
            result.deepest = max(result.deepest, depth)
            result.highest_view = max(
                result.highest_view, *(r.view for r in st.replicas.values())
            )
            if any(st.applied.values()):
                result.decided_runs += 1
                for digests in st.applied.values():
                    result.digests_decided.update(digests[:1])
            if all(st.applied.values()):
                continue  # every honest member decided revision 1: nothing left to disagree on
            if depth >= self.depth:
                result.cut_at_depth += bool(st.in_flight)
                continue
            for nxt in self._successors(st):
                result.transitions += 1
                if self._current_violations:
                    result.violations = list(self._current_violations)
                    return result
                fp = self.fingerprint(nxt)
                known = seen.get(fp)
                if known is not None and known <= depth + 1:
                    continue  # met before at this depth or shallower: nothing new below it
                if known is None:
                    result.states += 1
                seen[fp] = depth + 1
                if result.states >= self.max_states:
                    result.cut_at_depth += 1
                    return result
                stack.append((nxt, depth + 1))
        return result


_PRIMITIVES = frozenset({str, bytes, int, float, bool, type(None)})
_FROZEN: dict[type, bool] = {}


def _is_frozen(cls: type) -> bool:
    known = _FROZEN.get(cls)
    if known is None:
        params = getattr(cls, "__dataclass_params__", None)
        known = _FROZEN[cls] = bool(params is not None and params.frozen)
    return known


_SHARED: tuple[type, ...] = (str, bytes, int, float, bool, type(None), KeyRing)


def _clone(obj: object) -> object:
    """Copy mutable memory, share everything immutable (frozen records, keys, callables)."""
    cls = type(obj)
    if cls in _PRIMITIVES or _is_frozen(cls) or isinstance(obj, _SHARED) or callable(obj):
        return obj
    if isinstance(obj, dict) and cls is dict:
        return {k: _clone(v) for k, v in obj.items()}
    if isinstance(obj, list) and cls is list:
        return [_clone(v) for v in obj]
    if isinstance(obj, tuple) and cls is tuple:
        return tuple(_clone(v) for v in obj)
    if isinstance(obj, set) and cls is set:
        return set(obj)
    if isinstance(obj, deque) and cls is deque:
        return deque((_clone(v) for v in obj), obj.maxlen)
    if dataclasses.is_dataclass(obj):
        new = object.__new__(cls)
        for f in dataclasses.fields(obj):
            object.__setattr__(new, f.name, _clone(getattr(obj, f.name)))
        return new
    if hasattr(obj, "__dict__") and not isinstance(obj, _NEVER_COPIED):
        new = object.__new__(cls)
        new.__dict__.update({k: _clone(v) for k, v in vars(obj).items()})
        return new
    return obj


_NEVER_COPIED: tuple[type, ...] = (Verifier,)


def explore(
    *,
    depth: int = 60,
    max_states: int = 500_000,
    seed: int = 0,
    replica_class: type[Replica] = Replica,
    timeouts: int = 0,
) -> ExploreResult:
    """Explore every delivery order up to `depth` moves (see the module docstring).

    `timeouts` > 0 adds moves that expire one honest member's timers, at most
    that many per run, so view changes and re-proposals are explored too.
    """
    return Explorer(
        seed=seed, depth=depth, max_states=max_states, replica_class=replica_class,
        timeouts=timeouts,
    ).run()
