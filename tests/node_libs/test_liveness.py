"""LivenessService with a fake node and clock: suspicion, stalls, catch-up, evidence, settings."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from butterfly_config.consensus.crypto import generate_signer
from butterfly_config.consensus.encoding import encode
from butterfly_config.consensus.params import Member
from butterfly_config.node.divergence import DivergenceMonitor
from butterfly_config.node.heartbeats import Heartbeat, HeartbeatRefused, encode_heartbeat
from butterfly_config.node.liveness import LivenessHooks, LivenessService, next_epoch
from butterfly_config.node.metrics import NodeMetrics
from butterfly_config.node.transport import HEARTBEAT_PATH, PeerTransport
from butterfly_config.schema.byzantine import FailureDetectionSection

SIGNERS = {name: generate_signer(name) for name in ("n0", "n1", "n2", "n3")}
MEMBERS = tuple(Member(n, f"127.0.0.1:{7000 + i}", s.public_key_bytes())
                for i, (n, s) in enumerate(SIGNERS.items()))
HASHES = {r: f"{r:02d}" * 32 for r in range(10)}


@dataclass
class FakeNode:
    """The runtime's side of the hooks, recording what the service asked for."""

    revision: int = 3
    view: int = 0
    coordinator: str = "n1"
    can_suspect: bool = True
    suspicions: int = 0
    catch_ups: int = 0
    sent: list[bytes] = field(default_factory=list)
    audits: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    restart_required: list[str] = field(default_factory=list)

    def suspect(self) -> None:
        """As the replica does: move to the next view, not established until it forms."""
        self.suspicions += 1
        self.view += 1
        self.can_suspect = False

    def hooks(self, metrics: NodeMetrics | None = None) -> LivenessHooks:
        return LivenessHooks(
            head=lambda: (self.revision, HASHES[self.revision], self.view),
            committed_hash=lambda r: HASHES[r] if 0 <= r <= self.revision else None,
            coordinator=lambda: self.coordinator,
            can_suspect=lambda: self.can_suspect,
            suspect_coordinator=self.suspect,
            catch_up=lambda: setattr(self, "catch_ups", self.catch_ups + 1),
            broadcast=self.sent.append,
            audit=lambda action, outcome, detail: self.audits.append((action, outcome, detail)),
            metrics=metrics,
            restart_required=lambda: self.restart_required,
        )


class Clock:
    def __init__(self) -> None:
        self.now = 10_000.0

    def __call__(self) -> float:
        return self.now


def service(node: FakeNode, clock: Clock, metrics: NodeMetrics | None = None,
            **options: Any) -> LivenessService:
    return LivenessService(
        node_id="n0", cluster="prod", members=MEMBERS, signer=SIGNERS["n0"],
        algorithm="ed25519", epoch=1, hooks=node.hooks(metrics), quorum=3,
        settings=FailureDetectionSection(**options), clock_ms=clock, wall=lambda: 1.0e9)


class Peer:
    """A peer that sends properly signed heartbeats."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.seq = 0

    def beat(self, revision: int = 3, cluster_hash: str | None = None, interval: int = 100,
             view: int = 0) -> bytes:
        self.seq += 1
        heartbeat = Heartbeat("prod", self.name, self.seq, revision,
                              HASHES[revision] if cluster_hash is None else cluster_hash,
                              view, interval)
        return encode_heartbeat(heartbeat, SIGNERS[self.name])


def steady(live: LivenessService, clock: Clock, peers: list[Peer], rounds: int = 30) -> None:
    for _ in range(rounds):
        clock.now += 100
        for peer in peers:
            live.receive(peer.name, peer.beat())
        live.check()


def silence(live: LivenessService, clock: Clock, ms: float, others: list[Peer]) -> None:
    """Let `ms` pass in monitoring steps while only `others` keep sending."""
    end = clock.now + ms
    while clock.now < end:
        clock.now += 50
        if int(clock.now) % 100 == 0:
            for peer in others:
                live.receive(peer.name, peer.beat())
        live.check()


def test_a_silent_coordinator_is_suspected_once_per_view() -> None:
    node, clock = FakeNode(), Clock()
    live = service(node, clock, NodeMetrics())
    peers = [Peer("n1"), Peer("n2"), Peer("n3")]
    steady(live, clock, peers)
    assert node.suspicions == 0
    silence(live, clock, 1000, peers[1:])
    assert node.suspicions == 0  # 1 s of silence: phi still below 12 (floor 200 ms)
    silence(live, clock, 1500, peers[1:])
    assert node.suspicions == 1 and node.view == 1
    assert [a[:2] for a in node.audits] == [("view-change", "coordinator-failed")]
    assert node.audits[0][2]["coordinator"] == "n1" and node.audits[0][2]["view"] == 0
    silence(live, clock, 3000, peers[1:])
    assert node.suspicions == 1  # no new suspicion while the view change runs
    # view 1 forms under n2; n1 is back, and n2 goes silent: one more suspicion, for view 1
    node.coordinator, node.can_suspect = "n2", True
    silence(live, clock, 5000, [peers[0], peers[2]])
    assert node.suspicions == 2 and node.view == 2
    assert node.audits[-1][2]["coordinator"] == "n2" and node.audits[-1][2]["view"] == 1
    status = live.peer_status("n2")
    assert status["detector"] == "failed" and status["phi"] >= 12.0
    assert live.peer_status("n3")["detector"] == "alive"


@pytest.mark.parametrize("why", ["not ready or standalone", "coordinator is me"])
def test_no_suspicion_when_it_is_not_this_nodes_call(why: str) -> None:
    node, clock = FakeNode(), Clock()
    if why == "coordinator is me":
        node.coordinator = "n0"
    else:
        node.can_suspect = False
    live = service(node, clock)
    steady(live, clock, [Peer("n1"), Peer("n2"), Peer("n3")])
    silence(live, clock, 10_000, [])
    assert node.suspicions == 0


def test_a_node_cut_off_from_everyone_does_not_suspect() -> None:
    """Partitioned alone, its view change could not complete and would strand it."""
    node, clock = FakeNode(), Clock()
    live = service(node, clock)
    peers = [Peer("n1"), Peer("n2"), Peer("n3")]
    steady(live, clock, peers)
    silence(live, clock, 5000, [])
    assert node.suspicions == 0
    # with one other member still heard, the quorum (3 with this node) is not there either
    silence(live, clock, 5000, [peers[1]])
    assert node.suspicions == 0
    # The network heals: peers come back one by one, so the others are heard before the
    # coordinator is. Its silence belonged to the cut-off: it is judged afresh.
    silence(live, clock, 500, peers[1:])
    assert node.suspicions == 0
    silence(live, clock, 1000, peers)  # the coordinator is back: never suspected
    assert node.suspicions == 0
    silence(live, clock, 3000, peers[1:])  # a coordinator silent after the heal is
    assert node.suspicions == 1


def test_a_coordinator_never_heard_from_is_suspected() -> None:
    node, clock = FakeNode(), Clock()
    live = service(node, clock)
    live.check()
    silence(live, clock, 3000, [Peer("n2"), Peer("n3")])
    assert node.suspicions == 1


def test_own_stall_is_forgiven() -> None:
    node, clock = FakeNode(), Clock()
    live = service(node, clock)
    peers = [Peer("n1"), Peer("n2"), Peer("n3")]
    steady(live, clock, peers)
    clock.now += 20_000  # this process was paused (SIGSTOP) for 20 s
    live.check()
    assert node.suspicions == 0
    assert live.peer_status("n1")["detector"] == "alive"
    steady(live, clock, peers, rounds=3)
    assert node.suspicions == 0


def test_refused_heartbeats_change_nothing() -> None:
    node, clock = FakeNode(), Clock()
    live = service(node, clock)
    honest = Peer("n1")
    live.receive("n1", honest.beat())
    before = live.peer_status("n1")
    clock.now += 50
    claim = Heartbeat("prod", "n1", 99, 7, HASHES[7], 4, 100).signing_bytes()
    forged = encode((claim, SIGNERS["n2"].sign(claim)))  # n2 pretending to be n1
    with pytest.raises(HeartbeatRefused):
        live.receive("n1", forged)
    assert live.peer_status("n1")["revision"] == before["revision"] == 3
    assert live.detector.history_size("n1") == 0 and node.catch_ups == 0
    assert live.status()["refused_heartbeats"] == 1


def test_the_peer_endpoint_answers_4xx_for_bad_heartbeats() -> None:
    node, clock = FakeNode(), Clock()
    live = service(node, clock)
    transport = PeerTransport(node_id="n0", peer_addrs={m.node_id: m.addr for m in MEMBERS},
                              on_receive=lambda _data: None, on_heartbeat=live.on_heartbeat)
    honest = Peer("n1")
    first_beat = honest.beat()
    replay = honest.beat()
    bodies = [first_beat, replay, replay, b'{"node_id": "n1", "revision": 99}']

    async def post_all() -> list[httpx.Response]:
        asgi = httpx.ASGITransport(app=transport.asgi_app())
        async with httpx.AsyncClient(transport=asgi, base_url="http://peer") as http:
            return [await http.post(HEARTBEAT_PATH, content=body,
                                    headers={"X-Butterfly-Node": "n1"}) for body in bodies]

    ok, first, again, unsigned = asyncio.run(post_all())
    assert (ok.status_code, first.status_code) == (202, 202)
    assert again.status_code == 400 and "replayed" in again.text
    assert unsigned.status_code == 400
    assert live.peers["n1"].heartbeats == 2 and live.peers["n1"].revision == 3


def test_a_peer_ahead_triggers_a_rate_limited_catch_up() -> None:
    node, clock = FakeNode(revision=3), Clock()
    metrics = NodeMetrics()
    live = service(node, clock, metrics)
    ahead = Peer("n2")
    live.receive("n2", ahead.beat(revision=5))
    assert node.catch_ups == 0  # within the grace: a commit may just be landing here too
    for _ in range(30):  # 3 s of heartbeats announcing revision 5
        clock.now += 100
        live.receive("n2", ahead.beat(revision=5))
    assert 2 <= node.catch_ups <= 3  # at most one a second
    node.revision = 5
    clock.now += 100
    live.receive("n2", ahead.beat(revision=5))
    count = node.catch_ups
    for _ in range(20):
        clock.now += 100
        live.receive("n2", ahead.beat(revision=5))
    assert node.catch_ups == count
    assert b"butterfly_config_catch_up_requests_total" in metrics.render()[0]


def test_a_different_hash_for_a_committed_revision_is_evidence() -> None:
    node, clock = FakeNode(revision=5), Clock()
    metrics = NodeMetrics()
    live = service(node, clock, metrics)
    liar = Peer("n3")
    for _ in range(5):
        clock.now += 100
        live.receive("n3", liar.beat(revision=4, cluster_hash="ff" * 32))
    assert [a[:2] for a in node.audits] == [("divergence", "evidence")]
    detail = node.audits[0][2]
    assert detail["peer"] == "n3" and detail["revision"] == 4
    assert detail["peer_cluster_hash"] == "ff" * 32
    assert detail["committed_cluster_hash"] == HASHES[4]
    assert live.peer_status("n3")["divergence"] == detail
    assert live.evidence() == [detail]
    rendered = metrics.render()[0].decode()
    assert 'butterfly_config_divergence_evidence_total{peer="n3"} 1.0' in rendered
    # an honest peer behind this node is no evidence
    live.receive("n2", Peer("n2").beat(revision=2))
    assert len(node.audits) == 1


def test_divergence_monitor_grace_and_gap() -> None:
    monitor = DivergenceMonitor(grace_ms=300, min_gap_ms=1000)

    def seen(now: float, revision: int, head: int) -> bool:
        return monitor.observe("p", revision, "h", now_ms=now, wall_time=0.0,
                               head_revision=head, committed_hash=lambda _r: "h").catch_up

    assert not seen(0, 4, 3)
    assert not seen(200, 4, 3)
    assert seen(300, 4, 3)
    assert not seen(900, 4, 3)
    assert seen(1300, 4, 3)
    assert not seen(1400, 4, 4)  # caught up
    assert not seen(1500, 5, 4)  # a new lag starts its own grace
    assert seen(2400, 5, 4)


def test_failure_detection_settings_apply_live() -> None:
    node, clock = FakeNode(), Clock()
    live = service(node, clock)
    peers = [Peer("n1"), Peer("n2"), Peer("n3")]
    steady(live, clock, peers)
    live.configure(FailureDetectionSection(phi_suspect_threshold=1.0, phi_failed_threshold=2.0,
                                           heartbeat_interval_ms=250, max_heartbeat_history=5))
    status = live.status()
    assert (status["phi_suspect_threshold"], status["phi_failed_threshold"]) == (1.0, 2.0)
    assert status["heartbeat_interval_ms"] == 250 and status["max_heartbeat_history"] == 5
    assert live.detector.history_size("n1") == 5
    silence(live, clock, 600, peers[1:])
    assert node.suspicions == 1  # far sooner than the 2.5 s the old thresholds needed
    # the heartbeats announce the new interval
    assert live.pace.interval_ms == 250
    # an inconsistent pair (validation prevents it) is refused and the old settings kept
    live.configure(FailureDetectionSection.model_construct(
        **{**live.settings.model_dump(), "phi_suspect_threshold": 9.0,
           "phi_failed_threshold": 3.0}))
    assert live.status()["phi_failed_threshold"] == 2.0


def test_the_epoch_is_raised_and_persisted() -> None:
    class Store:
        def __init__(self) -> None:
            self.meta: dict[str, str] = {}

        def get_meta(self, key: str) -> str | None:
            return self.meta.get(key)

        def set_meta(self, key: str, value: str) -> None:
            self.meta[key] = value

    store = Store()
    assert [next_epoch(store) for _ in range(3)] == [1, 2, 3]


def test_sent_heartbeats_are_signed_and_carry_the_head() -> None:
    node, clock = FakeNode(revision=4, view=2), Clock()
    live = service(node, clock)
    live.send()
    live.send()
    receiver = service(FakeNode(), Clock())
    receiver.node_id = "n1"
    receiver.__post_init__()
    first = receiver.receive("n0", node.sent[0])
    second = receiver.receive("n0", node.sent[1])
    assert (first.revision, first.cluster_hash, first.view) == (4, HASHES[4], 2)
    assert second.seq == first.seq + 1 and first.seq >> 32 == 1


def test_restart_required_paths_travel_in_heartbeats() -> None:
    node, clock = FakeNode(restart_required=["network.listen_addr", "node.data_dir"]), Clock()
    service(node, clock).send()
    receiver = service(FakeNode(), Clock())
    receiver.node_id = "n1"
    receiver.__post_init__()
    beat = receiver.receive("n0", node.sent[0])
    assert beat.restart_required == ("network.listen_addr", "node.data_dir")
    assert receiver.peer_status("n0")["restart_required"] == [
        "network.listen_addr", "node.data_dir"]
    assert receiver.peer_status("n2")["restart_required"] == []  # never heard
