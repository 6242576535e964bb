"""The deterministic simulator: one seed, one reproducible run of a whole cluster.

A run has two phases. During the fault window the network drops, duplicates,
delays and partitions, honest members crash and restart from their disks, and
clients send valid, invalid, conflicting and concurrent proposals. Then the
network heals (no more loss), every crashed member restarts, and the run must
reach quiescence within a bound: every proposal answered (committed, aborted or
refused) and every honest member on the same head. Safety invariants are
checked on every apply and every emitted vote, i.e. after every step; the run
stops at the first violation with the last events as a readable trace.

Everything random comes from one `random.Random(seed)`; time is virtual.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from butterfly_config.consensus.messages import (
    Message,
    SignedMessage,
    encode_message,
    message_type_name,
)
from butterfly_config.consensus.replica import Replica
from butterfly_config.consensus.sim.byzantine import (
    COORDINATOR_SEEKERS,
    STRATEGIES,
    STRATEGY_NAMES,
    TWINS,
    Context,
    Strategy,
)
from butterfly_config.consensus.sim.checker import InvariantChecker
from butterfly_config.consensus.sim.events import EventQueue
from butterfly_config.consensus.sim.host import Durable, Instance
from butterfly_config.consensus.sim.network import (
    HOSTILE,
    Envelope,
    Network,
    NetworkProfile,
    random_partition,
)
from butterfly_config.consensus.sim.report import RunResult, Summary
from butterfly_config.consensus.sim.trace import Trace
from butterfly_config.consensus.sim.world import (
    World,
    build_world,
    make_vetoing_validator,
    sim_hash,
    validate,
    validation_error,
)
from butterfly_config.consensus.state import (
    EvidenceFound,
    Outbound,
    ProposalAborted,
    ProposalCommitted,
    ProposalRefused,
    ViewChanged,
)


@dataclass(frozen=True, slots=True)
class SimParams:
    """The shape of a run; the seed decides everything else."""

    nodes: int = 4
    faulty: int = 1
    byzantine: str = "all"
    """"all" (a random mix per seed), "none", or one strategy name for every liar."""
    network: NetworkProfile = HOSTILE
    proposals: int = 3
    fault_window_ms: int = 3000
    liveness_bound_ms: int = 30000
    tick_ms: int = 50
    max_events: int = 400_000
    count_bytes: bool = True
    """Encode every message to count bytes (about 15% of the run time)."""
    probe: bool = True
    """After the heal, a client keeps proposing one valid change (retrying on abort
    or refusal) until it commits: quiescence alone would accept a cluster that
    aborts everything forever."""
    replica_class: type[Replica] = Replica
    """Tests swap in a deliberately broken subclass to prove the checker can fail."""
    protocol: str = "optimistic_pbft"
    """"optimistic_pbft" (fast path when all n agree) or "standard_pbft" (always commit round)."""
    vetoes: bool = True
    """Some seeds give one honest member a subscriber that vetoes a quarter of changes."""
    erratic_detector: bool = False
    """Every tick, an honest replica may be told a random set of members is down
    (`Replica.set_unresponsive`): the detector is only advice, so a wrong one
    must never break safety. Drawn from its own random stream."""
    crashes_after_finalize: bool = False
    """A crash meant for right after a member's next write waits for a write that
    follows a FINALIZE sent ahead of it (state.precedes_write), and falls between the
    two: aims a sweep at the moment a coordinator has told the members a decision
    that it has not stored itself."""


# -- events ---------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Deliver:
    envelope: Envelope[Message]


@dataclass(frozen=True, slots=True)
class Tick:
    instance: str


@dataclass(frozen=True, slots=True)
class ClientRequest:
    instance: str
    request_id: str
    document: bytes


@dataclass(frozen=True, slots=True)
class Crash:
    instance: str
    after_persist: bool


@dataclass(frozen=True, slots=True)
class Restart:
    instance: str


@dataclass(frozen=True, slots=True)
class Partition:
    groups: tuple[tuple[str, ...], ...]


@dataclass(frozen=True, slots=True)
class Heal:
    final: bool


Event = Deliver | Tick | ClientRequest | Crash | Restart | Partition | Heal


@dataclass(slots=True)
class Counters:
    aborts: int = 0
    refusals: int = 0
    evidence: Counter[str] = field(default_factory=Counter)
    """Evidence honest members found, per accused member."""
    views: set[int] = field(default_factory=set)
    crash_points: Counter[str] = field(default_factory=Counter)
    """Crashes of honest members by when they fell: "any time", "after a write",
    "after a FINALIZE, before its write" (and how many of those restarted before the
    final heal)."""


class Simulation:
    """One seeded run. `run()` returns its RunResult."""

    def __init__(self, params: SimParams, seed: int) -> None:
        self.params = params
        self.seed = seed
        self.rng = random.Random(seed)
        self._finalize_crashed: set[str] = set()  # crashed after a FINALIZE, restart due
        self.world: World = build_world(
            self.rng, params.nodes, params.faulty, protocol=params.protocol
        )
        self.queue: EventQueue[Event] = EventQueue()
        self.net: Network[Message] = Network(self.rng, params.network)
        self.trace = Trace()
        self.counters = Counters()
        self.checker = InvariantChecker(
            cluster=self.world.params.cluster_name,
            members=self.world.members,
            quorum=self.world.params.quorum,
            keyring=self.world.keyring(),
            hash_fn=sim_hash,
            validate=validation_error,
            genesis=self.world.genesis.entry,
            params=self.world.params,
        )
        self.instances: dict[str, Instance] = {}
        self.by_identity: dict[str, list[Instance]] = {}
        self.strategies: dict[str, Strategy] = {}
        self.byzantine = self._choose_byzantine()
        self._build_instances()
        self.heal_ms = params.fault_window_ms
        self.deadline_ms = self.heal_ms + params.liveness_bound_ms
        self._sizes: dict[int, tuple[Message, int]] = {}
        self._probes = 0
        self.sent_by_type: Counter[str] = Counter()
        self._probe_committed = not params.probe
        self._detector_rng = random.Random(seed ^ 0x0DE7EC7)

    # -- set-up ----------------------------------------------------------------
    def _choose_byzantine(self) -> dict[str, str]:
        p, rng = self.params, self.rng
        if p.byzantine == "none" or p.faulty == 0:
            return {}
        count = rng.randint(1, p.faulty)
        if p.byzantine == "all":
            names = [rng.choice(STRATEGY_NAMES) for _ in range(count)]
        else:
            names = [p.byzantine] * count
        seats = list(self.world.members)
        chosen: list[str] = []
        if any(n in COORDINATOR_SEEKERS for n in names) and rng.random() < 0.6:
            chosen.append(seats[0])
        rest = [m for m in seats if m not in chosen]
        chosen += rng.sample(rest, count - len(chosen))
        # put coordinator-seeking strategies in the coordinator's seat when it is taken
        names.sort(key=lambda n: n not in COORDINATOR_SEEKERS)
        return dict(zip(chosen, names, strict=True))

    def _build_instances(self) -> None:
        honest = [m for m in self.world.members if m not in self.byzantine]
        vetoer = self.rng.choice(honest) if self.rng.random() < 0.3 else None
        if not self.params.vetoes:
            vetoer = None
        for identity in self.world.members:
            signer = self.world.signers[identity]
            strategy = self.byzantine.get(identity)
            names = [f"{identity}a", f"{identity}b"] if strategy == TWINS else [identity]
            for name in names:
                validator = make_vetoing_validator(self.seed) if identity == vetoer else validate
                inst = Instance(
                    name, identity, signer, validator, honest=strategy is None,
                    durable=Durable([self.world.genesis]),
                )
                self.instances[name] = inst
                self.by_identity.setdefault(identity, []).append(inst)
                if strategy is not None and strategy != TWINS:
                    ctx = Context(
                        identity, signer, self.rng, self.world.params,
                        self.checker.client_proposed,
                        partial(_replica_of, inst),
                    )
                    self.strategies[name] = STRATEGIES[strategy](ctx)

    def _schedule_workload(self) -> None:
        p, rng = self.params, self.rng
        honest = [i.name for i in self.instances.values() if i.honest]
        for k in range(p.proposals):
            at = rng.randint(0, max(0, p.fault_window_ms - 200))
            target = rng.choice(honest)
            document = _document(rng, k, invalid=rng.random() < 0.2)
            self.queue.schedule(at, ClientRequest(target, f"req-{k}", document))
            if rng.random() < 0.3:  # a conflicting proposal at the same moment elsewhere
                other = rng.choice(honest)
                self.queue.schedule(
                    at, ClientRequest(other, f"req-{k}-x", _document(rng, k, invalid=False))
                )

    def _schedule_faults(self) -> None:
        p, rng, window = self.params.network, self.rng, self.params.fault_window_ms
        if p.partitions:
            t = 0
            for _ in range(rng.randint(0, 2)):
                t = rng.randint(t, window)
                if t >= window - 100:
                    break
                groups = tuple(tuple(g) for g in random_partition(rng, self.world.members))
                self.queue.schedule(t, Partition(groups))
                t = min(window - 1, t + rng.randint(200, 1500))
                self.queue.schedule(t, Heal(final=False))
        if p.crashes:
            honest = [i.name for i in self.instances.values() if i.honest]
            for _ in range(rng.randint(0, 2)):
                at = rng.randint(0, window)
                name = rng.choice(honest)
                after_persist = rng.random() < 0.3 or self.params.crashes_after_finalize
                self.queue.schedule(at, Crash(name, after_persist=after_persist))
                back = at + rng.randint(100, 2000)
                if back < window:
                    self.queue.schedule(back, Restart(name))
        self.queue.schedule(window, Heal(final=True))

    # -- the run ---------------------------------------------------------------
    def boot(self) -> None:
        """Start every member and its clock."""
        for inst in self.instances.values():
            self._start(inst)
            self.queue.schedule(self.rng.randrange(self.params.tick_ms), Tick(inst.name))

    def submit(self, instance: str, request_id: str, document: bytes, at_ms: int) -> None:
        """Queue a client proposal (for measurements driving the cluster by hand)."""
        self.queue.schedule(at_ms, ClientRequest(instance, request_id, document))

    def run_until(self, done: Callable[[], bool], limit_ms: int) -> bool:
        """Process events until `done()` holds (True) or virtual time passes `limit_ms`."""
        while len(self.queue) and self.queue.now_ms <= limit_ms:
            self.checker.now_ms = self.queue.now_ms
            self._handle(self.queue.pop())
            if done():
                return True
        return False

    def run(self) -> RunResult:
        self.boot()
        self._schedule_workload()
        self._schedule_faults()
        result = RunResult(self.seed, self.params.nodes, dict(self.byzantine))
        events = 0
        next_check = self.heal_ms
        while len(self.queue):
            event = self.queue.pop()
            now = self.queue.now_ms
            self.checker.now_ms = now
            events += 1
            self._handle(event)
            if self.checker.violations:
                break
            if now >= next_check:
                next_check = now + self.params.tick_ms
                if self._quiescent():
                    if self._probe_committed:
                        break
                    if self._probes == 0:
                        self._send_probe(now)
                if now >= self.deadline_ms:
                    result.liveness_failure = self._liveness_report()
                    break
            if events >= self.params.max_events:
                result.liveness_failure = f"no quiescence within {events} events"
                break
        return self._result(result, events)

    def _handle(self, event: Event) -> None:
        if isinstance(event, Deliver):
            self._deliver(event.envelope)
        elif isinstance(event, Tick):
            self._tick(event.instance)
        elif isinstance(event, ClientRequest):
            self._client(event)
        elif isinstance(event, Crash):
            self._crash(event)
        elif isinstance(event, Restart):
            inst = self.instances[event.instance]
            if not inst.up:
                if inst.name in self._finalize_crashed:
                    self._finalize_crashed.discard(inst.name)
                    self.counters.crash_points[
                        "after a FINALIZE, restarted in the fault window"] += 1
                self._start(inst)
        elif isinstance(event, Partition):
            self.net.partition(event.groups)
            self.trace.add(self.queue.now_ms, "net", "partition", list(event.groups))
        else:
            self._heal(event.final)

    def _deliver(self, env: Envelope[Message]) -> None:
        if not self.net.admit(env):
            return
        targets = self.by_identity.get(env.dst, [])
        if len(targets) == 2:  # twins: one, the other, or both get it
            roll = self.rng.random()
            targets = targets[:1] if roll < 0.4 else targets[1:] if roll < 0.8 else targets
        for inst in targets:
            replica = inst.replica
            if replica is None:
                continue
            self.trace.add(self.queue.now_ms, inst.name, "<-", env.payload)
            strategy = self.strategies.get(inst.name)
            messages: Iterable[Message] = (env.payload,)
            if strategy is not None:
                strategy.ctx.seen.append(env.payload)
                messages = strategy.inbound(env.payload)
            for message in messages:
                self._guard(inst, partial(replica.step, message), message)
            self._process(inst)

    def _tick(self, name: str) -> None:
        inst = self.instances[name]
        now = self.queue.now_ms
        replica = inst.replica
        if replica is not None:
            if (self.params.erratic_detector and inst.honest
                    and self._detector_rng.random() < 0.2):
                members = self.world.members
                down = {m for m in members if self._detector_rng.random() < 0.3}
                self._guard(inst, lambda: replica.set_unresponsive(down), "set_unresponsive")
            self._guard(inst, lambda: replica.tick(now), "tick")
            strategy = self.strategies.get(name)
            if strategy is not None:
                for out in strategy.tick(now):
                    self._transmit(inst, out)
            self._process(inst)
        self.queue.schedule(now + self.params.tick_ms, Tick(name))

    def _client(self, event: ClientRequest) -> None:
        inst = self.instances[event.instance]
        now = self.queue.now_ms
        replica = inst.replica
        self.checker.client_proposed(event.document)
        if replica is None:
            self.trace.add(now, inst.name, "client request lost (down)", event.request_id)
            return
        self.trace.add(now, inst.name, "client proposes", f"{event.request_id} {event.document!r}")
        inst.pending.add(event.request_id)
        self._guard(
            inst, lambda: replica.propose(event.request_id, event.document, "client"), "propose"
        )
        self._process(inst)

    def _crash(self, event: Crash) -> None:
        inst = self.instances[event.instance]
        if not inst.up:
            return
        if event.after_persist and self.params.crashes_after_finalize:
            inst = self._coordinator_seen_by(inst)
        if event.after_persist:
            inst.crash_after_persist = True
            self.trace.add(self.queue.now_ms, inst.name, "will crash after its next persist")
        else:
            inst.crash()
            self.counters.crash_points["any time"] += 1
            self.trace.add(self.queue.now_ms, inst.name, "CRASH")

    def _restart_soon(self, inst: Instance) -> None:
        """Bring a member crashed in its FINALIZE gap back while the faults go on, so it
        rejoins peers in every state (not only after the final heal)."""
        at = self.queue.now_ms + self.rng.randint(5, 600)
        if at < self.params.fault_window_ms:
            self.queue.schedule(at, Restart(inst.name))
            self._finalize_crashed.add(inst.name)

    def _coordinator_seen_by(self, inst: Instance) -> Instance:
        """The honest instance, up, that `inst` takes for its coordinator (else `inst`)."""
        coordinator = inst.replica.coordinator if inst.replica is not None else None
        for other in self.instances.values():
            if other.identity == coordinator and other.honest and other.up:
                return other
        return inst

    def _heal(self, final: bool) -> None:
        self.net.heal(lossless=final)
        self.trace.add(self.queue.now_ms, "net", "heal" + (" (final, lossless)" if final else ""))
        if final:
            for inst in self.instances.values():
                inst.crash_after_persist = False
                if not inst.up:
                    self._start(inst)

    def _start(self, inst: Instance) -> None:
        now = self.queue.now_ms
        replica = inst.start(self.world, now, self.params.replica_class)
        if inst.honest:
            self.checker.replica_started(inst.name, replica.head.entry)
        self.trace.add(now, inst.name, "start" if inst.starts == 1 else "RESTART",
                       f"on revision {replica.head_revision}")
        self._process(inst)

    # -- the caller's Ready loop -------------------------------------------------
    def _process(self, inst: Instance) -> None:
        """Persist, then send, then apply and handle events, then advance (state.py);
        as the node's driver does, a FINALIZE goes before the write, and a crash meant to
        come right after a write then falls between the two."""
        self._sizes.clear()
        for _ in range(1000):
            replica = inst.replica
            if replica is None or not replica.has_ready():
                return
            ready = replica.ready()
            early, later = ready.split_messages()
            if not (ready.committed or ready.hard_state is not None):
                early, later = (), ready.messages  # nothing to write: all in order
            self._send(inst, early)
            if early and inst.crash_after_persist:
                inst.crash()
                self.counters.crash_points["after a FINALIZE, before its write"] += 1
                if self.params.crashes_after_finalize:
                    self._restart_soon(inst)
                self.trace.add(self.queue.now_ms, inst.name,
                               "CRASH (FINALIZE sent, nothing written)")
                return
            for decided in ready.committed:
                inst.durable.log.append(decided)
                if inst.honest:
                    self.checker.applied(inst.name, decided)
                self.trace.add(self.queue.now_ms, inst.name, "APPLY",
                               f"r{decided.entry.revision} {decided.entry.document!r}")
            if ready.hard_state is not None:
                inst.durable.hard_state = ready.hard_state
                inst.durable.writes += 1
            if inst.crash_after_persist and not self.params.crashes_after_finalize:
                inst.crash()
                self.counters.crash_points["after a write"] += 1
                self.trace.add(self.queue.now_ms, inst.name, "CRASH (persisted, nothing sent)")
                return
            self._send(inst, later)
            for event in ready.events:
                self._event(inst, event)
            replica.advance(ready)
        self.checker._fail("progress", inst.name, "Ready batches never run dry (livelock)")

    def _send(self, inst: Instance, messages: tuple[Outbound, ...]) -> None:
        strategy = self.strategies.get(inst.name)
        for out in messages:
            for sent in strategy.outbound(out) if strategy is not None else (out,):
                self._transmit(inst, sent)

    def _transmit(self, inst: Instance, out: Outbound) -> None:
        message = out.message
        if inst.honest:
            self.checker.signed(inst.name, message)
        self.sent_by_type[message_type_name(message)] += 1
        size = 0
        if self.params.count_bytes:
            cached = self._sizes.get(id(message))
            if cached is None or cached[0] is not message:
                cached = (message, len(encode_message(message)))
                self._sizes[id(message)] = cached
            size = cached[1]
        now = self.queue.now_ms
        for at, env in self.net.send(inst.identity, out.to, message, size, now):
            self.queue.schedule(at, Deliver(env))

    def _send_probe(self, at_ms: int) -> None:
        self._probes += 1
        target = self.rng.choice(self._honest()).name
        document = b"probe-%d-" % self._probes + self.rng.randbytes(3).hex().encode()
        self.queue.schedule(at_ms, ClientRequest(target, f"probe-{self._probes}", document))

    def _event(self, inst: Instance, event: object) -> None:
        now = self.queue.now_ms
        if isinstance(event, ProposalAborted) and not event.final:
            self.trace.add(now, inst.name, "vetoed, not final", event)  # the outcome follows
        elif isinstance(event, ProposalCommitted | ProposalAborted | ProposalRefused):
            inst.pending.discard(event.request_id)
            if event.request_id.startswith("probe-"):
                if isinstance(event, ProposalCommitted):
                    self._probe_committed = True
                else:
                    self._send_probe(now + 4 * self.params.tick_ms)
            if isinstance(event, ProposalAborted):
                self.counters.aborts += 1
            elif isinstance(event, ProposalRefused):
                self.counters.refusals += 1
            self.trace.add(now, inst.name, type(event).__name__, event)
        elif isinstance(event, ViewChanged):
            if inst.honest:
                self.counters.views.add(event.view)
            self.trace.add(now, inst.name, "view changed", event.view)
        elif isinstance(event, EvidenceFound) and inst.honest:
            self.counters.evidence[event.member] += 1
            self.checker.evidence_found(inst.name, event,
                                        accused_honest=event.member not in self.byzantine)

    def _guard(self, inst: Instance, action: Callable[[], None], cause: object) -> None:
        """Run one replica input; an exception is a robustness violation, not a sim crash."""
        try:
            action()
        except Exception as exc:  # any escape from the core is itself the finding
            what = describe(cause) if not isinstance(cause, str) else cause
            self.checker._fail(
                "robustness", inst.name, f"{type(exc).__name__}: {exc} (while handling {what})"
            )
            if inst.honest or inst.name not in self.strategies:
                inst.crash()

    # -- liveness ----------------------------------------------------------------
    def _honest(self) -> list[Instance]:
        return [i for i in self.instances.values() if i.honest]

    def _quiescent(self) -> bool:
        honest = self._honest()
        if any(not i.up or i.pending for i in honest):
            return False
        heads = {i.replica.head.entry.digest for i in honest if i.replica is not None}
        if len(heads) != 1:
            return False
        top = max(self.checker.decided, default=0)
        replica = honest[0].replica
        return replica is not None and replica.head_revision >= top

    def _liveness_report(self) -> str:
        parts = []
        for inst in self._honest():
            replica = inst.replica
            if replica is None:
                parts.append(f"{inst.name} down")
                continue
            pending = f" pending {sorted(inst.pending)}" if inst.pending else ""
            parts.append(
                f"{inst.name} r{replica.head_revision} view {replica.view}"
                f"{'' if replica.established else ' (changing view)'}{pending}"
            )
        if self._quiescent() and not self._probe_committed:
            head = f"no valid change committed in {self._probes} client attempts"
        else:
            head = "not quiescent"
        return (
            f"{head} {self.params.liveness_bound_ms}ms after the network healed: "
            + "; ".join(parts)
        )

    def _result(self, result: RunResult, events: int) -> RunResult:
        result.commits = max(self.checker.decided, default=0)
        result.aborts = self.counters.aborts
        result.view_changes = len(self.counters.views - {0})
        result.evidence = dict(self.counters.evidence)
        result.crash_points = dict(self.counters.crash_points)
        result.messages = self.net.stats.sent
        result.bytes_sent = self.net.stats.bytes_sent
        result.events = self.trace.count
        result.end_ms = self.queue.now_ms
        result.violations = [str(v) for v in self.checker.violations]
        result.trace_hash = self.net.trace_hash
        if not result.ok:
            result.trace = self.trace.lines(describe)
        return result


def _replica_of(inst: Instance) -> Replica | None:
    return inst.replica


def _document(rng: random.Random, k: int, *, invalid: bool) -> bytes:
    tag = rng.randbytes(3).hex()
    return (b"bad-%d-" % k if invalid else b"cfg-%d-" % k) + tag.encode()


def describe(detail: object) -> str:
    """One short line for a message (or anything else) in a trace."""
    if not isinstance(detail, SignedMessage):
        return str(detail)
    m: Any = detail
    text = f"{message_type_name(m)} from {m.sender} b=({m.view},{m.attempt}) r{m.revision}"
    digest = getattr(m, "digest", None)
    entry = getattr(m, "entry", None)
    if entry is not None:
        text += f" entry {entry.digest[:8]} {entry.document!r}"
    elif digest:
        text += f" d={digest[:8]}"
    decided = getattr(m, "decided", None)
    if decided is not None and not isinstance(decided, tuple):
        text += f" decided {decided.entry.digest[:8]}"
    if m.cluster != "sim-cluster":
        text += f" cluster={m.cluster}"
    return text


def run_seed(params: SimParams, seed: int) -> RunResult:
    return Simulation(params, seed).run()


def run_seeds(
    params: SimParams, seeds: Iterable[int], progress: Callable[[int], None] | None = None
) -> Summary:
    summary = Summary()
    for done, seed in enumerate(seeds, start=1):
        summary.add(run_seed(params, seed))
        if progress is not None:
            progress(done)
    return summary
