"""Prometheus metrics of one node (DESIGN 1.10).

Each `NodeMetrics` owns its own `CollectorRegistry` instead of the process-wide
default one: several nodes run in one process in tests and in the simulator,
and each must export only its own numbers. The runtime calls the small
methods below; the HTTP API serves `render()` at /metrics.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

# Consensus phases take milliseconds on a LAN and up to the agreement timeouts
# (seconds) when members are slow, so the buckets span both.
PHASE_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class NodeMetrics:
    """The metric families of one node, registered on a private registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.updates = Counter(
            "butterfly_config_updates",
            "Configuration updates by outcome (committed, rejected, aborted, ...).",
            ["result"],
            registry=self.registry,
        )
        self.validation_failures = Counter(
            "butterfly_config_validation_failures",
            "Proposed configurations that failed validation.",
            registry=self.registry,
        )
        self.update_phase_seconds = Histogram(
            "butterfly_config_update_phase_seconds",
            "Time spent in each consensus phase of an update.",
            ["phase"],
            buckets=PHASE_BUCKETS,
            registry=self.registry,
        )
        self.revision = Gauge(
            "butterfly_config_revision",
            "The committed cluster revision this node serves.",
            registry=self.registry,
        )
        self.rollbacks = Counter(
            "butterfly_config_rollbacks",
            "Rollbacks committed (each is a new revision equal to an earlier one).",
            registry=self.registry,
        )
        self.view = Gauge(
            "butterfly_config_view",
            "The consensus view this node is in.",
            registry=self.registry,
        )
        self.peer_reputation = Gauge(
            "butterfly_config_peer_reputation",
            "Reputation score this node holds for each peer.",
            ["peer"],
            registry=self.registry,
        )
        self.peer_phi = Gauge(
            "butterfly_config_peer_phi",
            "Phi-accrual suspicion level this node holds for each peer.",
            ["peer"],
            registry=self.registry,
        )
        self.coordinator_suspicions = Counter(
            "butterfly_config_coordinator_suspicions",
            "View changes this node started because its detector found the coordinator failed.",
            registry=self.registry,
        )
        self.divergence_evidence = Counter(
            "butterfly_config_divergence_evidence",
            "Peers that announced another hash for a revision committed here.",
            ["peer"],
            registry=self.registry,
        )
        self.catch_up_requests = Counter(
            "butterfly_config_catch_up_requests",
            "Catch-ups this node asked for after seeing a peer ahead of it.",
            registry=self.registry,
        )
        self.auth_failures = Counter(
            "butterfly_config_auth_failures",
            "Rejected API requests by reason (unauthenticated, forbidden, locked_out).",
            ["reason"],
            registry=self.registry,
        )

    def inc_update(self, result: str) -> None:
        self.updates.labels(result=result).inc()

    def inc_validation_failure(self) -> None:
        self.validation_failures.inc()

    def observe_phase(self, phase: str, seconds: float) -> None:
        self.update_phase_seconds.labels(phase=phase).observe(seconds)

    def set_revision(self, revision: int) -> None:
        self.revision.set(revision)

    def inc_rollback(self) -> None:
        self.rollbacks.inc()

    def set_view(self, view: int) -> None:
        self.view.set(view)

    def set_reputation(self, peer: str, score: float) -> None:
        self.peer_reputation.labels(peer=peer).set(score)

    def set_phi(self, peer: str, phi: float) -> None:
        self.peer_phi.labels(peer=peer).set(phi)

    def inc_coordinator_suspicion(self) -> None:
        self.coordinator_suspicions.inc()

    def inc_divergence(self, peer: str) -> None:
        self.divergence_evidence.labels(peer=peer).inc()

    def inc_catch_up_request(self) -> None:
        self.catch_up_requests.inc()

    def inc_auth_failure(self, reason: str) -> None:
        self.auth_failures.labels(reason=reason).inc()

    def export_peer_transport(self, counters: Callable[[], Mapping[str, int]]) -> None:
        """Serve the peer transport's counters (the ones `cluster status` shows) as
        `butterfly_config_peer_transport_total{event}`, read when scraped."""
        self.registry.register(_PeerTransportCollector(counters))

    def render(self) -> tuple[bytes, str]:
        """The Prometheus text exposition of this node's metrics and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class _PeerTransportCollector(Collector):
    """Reads the transport's own counters at scrape time: nothing is counted twice."""

    def __init__(self, counters: Callable[[], Mapping[str, int]]) -> None:
        self._counters = counters

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "butterfly_config_peer_transport",
            "Peer transport events since start: frames sent (written) and received, send "
            "failures, messages dropped (queue full, peer blocked), frames refused (too "
            "large, malformed), streams opened.",
            labels=["event"],
        )
        for event, count in sorted(self._counters().items()):
            family.add_metric([event], count)
        yield family
