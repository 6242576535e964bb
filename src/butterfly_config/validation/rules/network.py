"""Rules on [network]: listeners of one node, message size, timeouts, compression, retries.

The address format itself (host:port, port range) is checked by the schema type.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
from collections.abc import Iterator

from butterfly_config.errors import ConfigIssue
from butterfly_config.schema.network import CompressionSection
from butterfly_config.schema.root import ConfigModel

from ..base import rule
from ..context import ValidationContext
from ..units import human_bytes

MIN_MESSAGE_SIZE_BYTES = 1 << 20
"""A configuration proposal with its certificates must fit in one message."""

COMPRESSION_LEVEL_RANGES = {"zstd": (1, 22), "lz4": (1, 12)}
"""Levels each codec accepts; snappy and none have no level."""

_DEFAULT_COMPRESSION_LEVEL: int = CompressionSection.model_fields["level"].default
_LOOPBACK_NAMES = {"localhost": "127.0.0.1", "ip6-localhost": "::1"}


@functools.lru_cache(maxsize=1024)
def split_address(address: str) -> tuple[str, int]:
    """`host:port` -> (normalized host, port); IPv6 brackets dropped, names lowercased."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]").lower()
    host = _LOOPBACK_NAMES.get(host, host)
    with contextlib.suppress(ValueError):
        host = str(ipaddress.ip_address(host.split("%", 1)[0]))
    return host, int(port)


def _is_wildcard(host: str) -> bool:
    return host in ("0.0.0.0", "::")


def hosts_overlap(a: str, b: str) -> bool:
    """Whether listeners on hosts `a` and `b` would compete for the same port."""
    return a == b or _is_wildcard(a) or _is_wildcard(b)


def _node_listeners(config: ConfigModel) -> list[tuple[str, str]]:
    listeners = [
        ("network.listen_addr", config.network.listen_addr),
        ("network.api_addr", config.network.api_addr),
    ]
    if config.observability.metrics.enabled:
        metrics_addr = config.observability.metrics.listen_addr
        listeners.append(("observability.metrics.listen_addr", metrics_addr))
    return listeners


@rule("network.address-conflict")
def listeners_do_not_collide(config: ConfigModel, ctx: ValidationContext) -> Iterator[ConfigIssue]:
    """Peer, API and metrics listeners of one node need distinct ports where hosts overlap."""
    seen: list[tuple[str, str, str, int]] = []
    for option_path, address in _node_listeners(config):
        host, port = split_address(address)
        for other_path, other_address, other_host, other_port in seen:
            if port == other_port and hosts_overlap(host, other_host):
                yield ConfigIssue(
                    path=option_path,
                    message=(
                        f"'{address}' uses port {port}, which {other_path} "
                        f"'{other_address}' already listens on: the node cannot bind both"
                    ),
                    hint=(
                        "give peer traffic (network.listen_addr), the HTTP API "
                        "(network.api_addr) and metrics (observability.metrics.listen_addr) "
                        "a port each"
                    ),
                )
                break
        seen.append((option_path, address, host, port))


@rule("network.max-message-size")
def message_size_fits_proposals(
    config: ConfigModel, ctx: ValidationContext
) -> Iterator[ConfigIssue]:
    """Messages must be able to carry a whole configuration with its certificates."""
    size = config.network.buffers.max_message_size_bytes
    if size < MIN_MESSAGE_SIZE_BYTES:
        yield ConfigIssue(
            path="network.buffers.max_message_size_bytes",
            message=(
                f"{size} bytes ({human_bytes(size)}) is below the minimum of 1 MiB: "
                "configuration proposals and their certificates would not fit in a message"
            ),
            hint="set it to at least 1048576 (1 MiB), and large enough for the largest tensor",
        )


@rule("network.connection-timeouts")
def connect_before_idle(config: ConfigModel, ctx: ValidationContext) -> Iterator[ConfigIssue]:
    """A connection must be allowed to finish connecting before it counts as idle."""
    connection = config.network.connection
    if connection.connection_timeout_ms >= connection.idle_timeout_ms:
        yield ConfigIssue(
            path="network.connection.connection_timeout_ms",
            message=(
                f"connection_timeout_ms ({connection.connection_timeout_ms} ms) must be shorter "
                f"than idle_timeout_ms ({connection.idle_timeout_ms} ms): a connection still "
                "being set up would be closed as idle"
            ),
            hint=(
                "lower network.connection.connection_timeout_ms or raise "
                "network.connection.idle_timeout_ms"
            ),
        )


@rule("network.compression-level")
def compression_level_fits_codec(
    config: ConfigModel, ctx: ValidationContext
) -> Iterator[ConfigIssue]:
    """The level must be one the codec knows; codecs without levels ignore it (a warning).

    The lz4/zstd range is checked even while compression is disabled, because
    enabling it later is a one-option change that must not land an invalid level.
    """
    compression = config.network.compression
    level_range = COMPRESSION_LEVEL_RANGES.get(compression.algorithm)
    if level_range is not None:
        low, high = level_range
        if not low <= compression.level <= high:
            yield ConfigIssue(
                path="network.compression.level",
                message=(
                    f"level {compression.level} is outside {compression.algorithm}'s "
                    f"range {low}-{high}"
                ),
                hint=f"choose a level from {low} to {high} for {compression.algorithm}",
            )
    elif compression.enabled and compression.level != _DEFAULT_COMPRESSION_LEVEL:
        yield ConfigIssue(
            path="network.compression.level",
            message=(
                f"level {compression.level} has no effect: {compression.algorithm} "
                "has no compression levels"
            ),
            hint=(
                f"remove the level (or leave it at {_DEFAULT_COMPRESSION_LEVEL}), "
                "or choose zstd or lz4 to tune compression"
            ),
            severity="warning",
        )


@rule("network.retry-backoff")
def backoff_bounds_ordered(config: ConfigModel, ctx: ValidationContext) -> Iterator[ConfigIssue]:
    """The first retry delay cannot exceed the cap on every retry delay."""
    retry = config.network.retry
    if retry.initial_backoff_ms > retry.max_backoff_ms:
        yield ConfigIssue(
            path="network.retry.initial_backoff_ms",
            message=(
                f"initial_backoff_ms ({retry.initial_backoff_ms} ms) is larger than "
                f"max_backoff_ms ({retry.max_backoff_ms} ms)"
            ),
            hint="make network.retry.initial_backoff_ms <= network.retry.max_backoff_ms",
        )


RULES = (
    listeners_do_not_collide,
    message_size_fits_proposals,
    connect_before_idle,
    compression_level_fits_codec,
    backoff_bounds_ordered,
)
