"""The network model is deterministic per seed and does what its profile says."""

from __future__ import annotations

import random

from butterfly_config.consensus.sim.events import EventQueue
from butterfly_config.consensus.sim.network import (
    CALM,
    HOSTILE,
    Envelope,
    Network,
    NetworkProfile,
    random_partition,
)

NODES = [f"n{i}" for i in range(5)]


def _drive(seed: int, profile: NetworkProfile = HOSTILE, sends: int = 400) -> Network[bytes]:
    """Send a fixed traffic pattern through a network with partitions and a heal."""
    rng = random.Random(seed)
    net: Network[bytes] = Network(rng, profile)
    queue: EventQueue[Envelope[bytes]] = EventQueue()
    for i in range(sends):
        if i == sends // 3:
            net.partition(random_partition(rng, NODES))
        if i == 2 * sends // 3:
            net.heal()
        src, dst = NODES[i % 5], NODES[(i * 7 + 1) % 5]
        for at, env in net.send(src, dst, b"m%d" % i, 10 + i % 7, queue.now_ms):
            queue.schedule(at, env)
        if i % 4 == 0 and len(queue):
            net.admit(queue.pop())
    while len(queue):
        net.admit(queue.pop())
    return net


def test_same_seed_gives_same_trace_hash() -> None:
    assert _drive(7).trace_hash == _drive(7).trace_hash
    assert _drive(123).trace_hash == _drive(123).trace_hash


def test_different_seeds_give_different_traces() -> None:
    hashes = {_drive(seed).trace_hash for seed in range(20)}
    assert len(hashes) == 20


def test_hostile_network_drops_duplicates_and_cuts() -> None:
    stats = _drive(3, sends=2000).stats
    assert stats.sent == 2000
    assert 0.08 * 2000 < stats.dropped < 0.25 * 2000
    assert stats.duplicated > 0.03 * 2000
    assert stats.cut > 0
    # every send ends up dropped, cut or delivered (duplicates deliver twice)
    assert stats.delivered + stats.dropped + stats.cut == stats.sent + stats.duplicated


def test_calm_network_delivers_everything_once() -> None:
    net: Network[bytes] = Network(random.Random(1), CALM)
    copies = [c for i in range(500) for c in net.send("n0", "n1", b"x", 1, 0)]
    assert len(copies) == 500
    assert all(CALM.min_delay_ms <= at <= CALM.max_delay_ms for at, _ in copies)


def test_random_delays_reorder_messages() -> None:
    net: Network[int] = Network(random.Random(5), HOSTILE)
    net.heal(lossless=True)
    queue: EventQueue[Envelope[int]] = EventQueue()
    for i in range(200):
        for at, env in net.send("n0", "n1", i, 1, 0):
            queue.schedule(at, env)
    order = [queue.pop().payload for _ in range(len(queue))]
    assert sorted(order) == list(range(200))
    assert order != list(range(200))


def test_partition_cuts_new_and_in_flight_messages() -> None:
    net: Network[str] = Network(random.Random(2), CALM)
    [(_, in_flight)] = net.send("n0", "n1", "before", 1, 0)
    net.partition([["n0", "n2"], ["n1", "n3"]])
    assert not net.admit(in_flight)
    assert net.send("n0", "n1", "during", 1, 0) == []
    assert len(net.send("n0", "n2", "same side", 1, 0)) == 1
    assert not net.connected("n4", "n0")  # named in no group: isolated
    net.heal()
    assert net.admit(in_flight)
    assert net.connected("n4", "n0")


def test_lossless_heal_stops_drops_and_duplicates() -> None:
    net: Network[int] = Network(random.Random(9), HOSTILE)
    net.heal(lossless=True)
    copies = [c for i in range(1000) for c in net.send("n0", "n1", i, 1, 0)]
    assert len(copies) == 1000


def test_random_partition_covers_every_member_once() -> None:
    rng = random.Random(4)
    for _ in range(50):
        groups = random_partition(rng, NODES)
        flat = [n for g in groups for n in g]
        assert sorted(flat) == sorted(NODES)
        assert 2 <= len(groups) <= 3 and all(groups)
