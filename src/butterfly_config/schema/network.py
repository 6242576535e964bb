"""[network]: transport, addresses, connections, buffers, compression, retries, topology."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import Section
from .options import option
from .types import (
    Address,
    CompressionLevel,
    Flag,
    Fraction,
    Multiplier,
    NonEmptyStr,
    NonNegativeInt,
    PositiveInt,
)

Protocol = Literal["quic", "grpc", "tcp"]
CompressionAlgorithm = Literal["none", "lz4", "zstd", "snappy"]
NetworkTier = Literal["high", "medium", "low"]


class ConnectionSection(Section):
    """How many connections a node keeps and how long they live."""

    max_connections: PositiveInt = option(
        1000, scope="node", mutability="dynamic",
        description="Most connections this node accepts at once.",
    )
    max_connections_per_peer: PositiveInt = option(
        10, scope="node", mutability="dynamic",
        description="Most connections this node opens to any one peer.",
    )
    connection_timeout_ms: PositiveInt = option(
        5000, scope="cluster", mutability="dynamic", unit="ms",
        description="How long to wait for a connection to be established.",
    )
    idle_timeout_ms: PositiveInt = option(
        30000, scope="cluster", mutability="dynamic", unit="ms",
        description="A connection without traffic for this long is closed.",
    )
    keepalive_interval_ms: PositiveInt = option(
        1000, scope="cluster", mutability="dynamic", unit="ms",
        description="Interval between keepalive probes on idle connections.",
    )
    tcp_nodelay: Flag = option(
        True, scope="cluster", mutability="dynamic",
        description="Send small writes at once instead of batching them (no Nagle delay).",
    )
    connection_pool_size: NonNegativeInt = option(
        100, scope="node", mutability="dynamic",
        description="Connections kept open for reuse; 0 disables pooling.",
    )


class BuffersSection(Section):
    """Socket and message buffer sizes."""

    send_buffer_bytes: PositiveInt = option(
        4194304, scope="node", mutability="static", unit="bytes",
        description="Socket send buffer, set when the socket is bound.",
    )
    recv_buffer_bytes: PositiveInt = option(
        4194304, scope="node", mutability="static", unit="bytes",
        description="Socket receive buffer, set when the socket is bound.",
    )
    max_message_size_bytes: PositiveInt = option(
        104857600, scope="cluster", mutability="dynamic", unit="bytes",
        description="Largest message a node sends or accepts; must fit the largest tensor.",
    )
    stream_buffer_bytes: PositiveInt = option(
        1048576, scope="node", mutability="dynamic", unit="bytes",
        description="Chunk size for streaming large transfers.",
    )


class CompressionSection(Section):
    """Compression of peer traffic; every node must agree to understand each other."""

    enabled: Flag = option(
        True, scope="cluster", mutability="dynamic",
        description="Compress peer traffic.",
    )
    algorithm: CompressionAlgorithm = option(
        "zstd", scope="cluster", mutability="dynamic",
        description="Compression codec used between nodes.",
    )
    level: CompressionLevel = option(
        3, scope="cluster", mutability="dynamic",
        description="Codec effort level: zstd 1-22, lz4 1-12; higher is smaller but slower.",
    )
    min_size_bytes: NonNegativeInt = option(
        1024, scope="cluster", mutability="dynamic", unit="bytes",
        description="Messages smaller than this are sent uncompressed.",
    )
    compress_tensors: Flag = option(
        True, scope="cluster", mutability="dynamic",
        description="Compress tensor payloads.",
    )
    compress_checkpoints: Flag = option(
        True, scope="cluster", mutability="dynamic",
        description="Compress checkpoint transfers.",
    )


class RetrySection(Section):
    """Retries of failed requests with exponential backoff and jitter."""

    max_retries: NonNegativeInt = option(
        3, scope="cluster", mutability="dynamic",
        description="Retries after the first failed attempt; 0 never retries.",
    )
    initial_backoff_ms: NonNegativeInt = option(
        100, scope="cluster", mutability="dynamic", unit="ms",
        description="Delay before the first retry.",
    )
    max_backoff_ms: NonNegativeInt = option(
        5000, scope="cluster", mutability="dynamic", unit="ms",
        description="Upper bound of the retry delay.",
    )
    backoff_multiplier: Multiplier = option(
        2.0, scope="cluster", mutability="dynamic",
        description="Factor applied to the delay after each failed attempt.",
    )
    jitter_factor: Fraction = option(
        0.1, scope="cluster", mutability="dynamic",
        description="Random spread of each delay, so peers do not retry in step.",
    )
    retry_on_connection_reset: Flag = option(
        True, scope="cluster", mutability="dynamic",
        description="Retry when the peer resets the connection.",
    )
    retry_on_timeout: Flag = option(
        True, scope="cluster", mutability="dynamic",
        description="Retry when a request times out.",
    )
    retry_on_unavailable: Flag = option(
        True, scope="cluster", mutability="dynamic",
        description="Retry when the peer reports itself unavailable.",
    )


class TopologySection(Section):
    """Where this node sits, as hints for latency-aware placement."""

    datacenter: NonEmptyStr | None = option(
        None, scope="node", mutability="dynamic",
        description="Datacenter holding this node.",
        example="us-west-2a",
    )
    rack: NonEmptyStr | None = option(
        None, scope="node", mutability="dynamic",
        description="Rack holding this node, for placement inside a datacenter.",
        example="rack-7",
    )
    availability_zone: NonEmptyStr | None = option(
        None, scope="node", mutability="dynamic",
        description="Availability zone of this node.",
        example="az1",
    )
    network_tier: NetworkTier = option(
        "high", scope="node", mutability="dynamic",
        description="Bandwidth class of the link: high 100 Gbps+, medium 10-100, low below 10.",
    )
    expected_latency_ms: NonNegativeInt = option(
        5, scope="node", mutability="dynamic", unit="ms",
        description="Typical latency to the coordinator, used to size timeouts.",
    )


class NetworkSection(Section):
    """Peer transport and the addresses a node uses."""

    protocol: Protocol = option(
        "quic", scope="cluster", mutability="static",
        description="Transport used between nodes.",
    )
    coordinator_addr: Address = option(
        "127.0.0.1:7890", scope="cluster", mutability="static",
        description="Peer address of the coordinator that every node contacts.",
    )
    listen_addr: Address = option(
        "0.0.0.0:7890", scope="node", mutability="static",
        description="Address for peer traffic; host 0.0.0.0 listens on all interfaces.",
    )
    api_addr: Address = option(
        "127.0.0.1:8080", scope="node", mutability="static",
        description="Address the node's HTTP API listens on.",
    )
    external_addr: Address | None = option(
        None, scope="node", mutability="static",
        description="Address peers use to reach this node behind NAT; listen_addr if unset.",
        example="10.0.1.11:7890",
    )
    ipv6_enabled: Flag = option(
        False, scope="node", mutability="static",
        description="Also use IPv6.",
    )
    interface: NonEmptyStr | None = option(
        None, scope="node", mutability="static",
        description="Network interface to bind to; any if unset.",
        example="eth0",
    )
    connection: ConnectionSection = Field(default_factory=ConnectionSection)
    buffers: BuffersSection = Field(default_factory=BuffersSection)
    compression: CompressionSection = Field(default_factory=CompressionSection)
    retry: RetrySection = Field(default_factory=RetrySection)
    topology: TopologySection = Field(default_factory=TopologySection)
