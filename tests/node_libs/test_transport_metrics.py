"""The peer transport's counters on /metrics, as `cluster status` shows them."""

from __future__ import annotations

from pathlib import Path

from reload_helpers import cluster_member

from butterfly_config.node.metrics import NodeMetrics

FAMILY = "butterfly_config_peer_transport_total"


def sample(metrics: NodeMetrics, event: str) -> float | None:
    return metrics.registry.get_sample_value(FAMILY, {"event": event})


def test_the_counters_are_read_when_scraped() -> None:
    counts = {"sent": 0, "received": 0}
    metrics = NodeMetrics()
    metrics.export_peer_transport(lambda: counts)
    assert sample(metrics, "sent") == 0
    counts["sent"] = 5
    assert sample(metrics, "sent") == 5
    text, _ = metrics.render()
    assert f'{FAMILY}{{event="sent"}} 5.0' in text.decode()


def test_a_node_exports_what_its_transport_counts(tmp_path: Path) -> None:
    runtime, _ = cluster_member(tmp_path)
    try:
        transport = runtime.transport
        status = transport.status()
        for event, count in transport.counters().items():
            assert status[event] == count
            assert sample(runtime.metrics, event) == count
        transport._on_frame("node-1", b"?unknown kind")
        transport._on_frame("node-1", b"m" + b"not a message")
        assert sample(runtime.metrics, "malformed_frames") == 1
        assert sample(runtime.metrics, "received") == 1
    finally:
        runtime.store.close()
