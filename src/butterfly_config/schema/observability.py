"""[observability]: logs, metrics, traces and profiling."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import Section
from .options import option
from .types import (
    Address,
    Buckets,
    Flag,
    Fraction,
    LogLevel,
    MetricPrefix,
    NonEmptyStr,
    NonNegativeInt,
    PathText,
    PositiveInt,
)

LogFormat = Literal["json", "text", "pretty"]
LogOutput = Literal["stdout", "stderr", "file", "syslog"]
LogRotation = Literal["daily", "hourly", "size", "never"]
MetricsExporter = Literal["prometheus", "influxdb", "otlp", "custom"]
TracingExporter = Literal["jaeger", "zipkin", "otlp"]


class LoggingSection(Section):
    """Log level, format and destination; changes apply to the running node."""

    level: LogLevel = option(
        "info", scope="node", mutability="dynamic",
        description="Least severe level that is logged.",
    )
    format: LogFormat = option(
        "json", scope="node", mutability="dynamic",
        description="Log line format: json for machines, text or pretty (coloured) for people.",
    )
    output: LogOutput = option(
        "file", scope="node", mutability="dynamic",
        description="Where log lines go.",
    )
    file_path: PathText = option(
        "/var/log/butterfly/butterfly.log", scope="node", mutability="dynamic",
        description="Log file, used when output is file.",
    )
    rotation: LogRotation = option(
        "daily", scope="node", mutability="dynamic",
        description="When the log file is rotated.",
    )
    max_file_size_mb: PositiveInt = option(
        100, scope="node", mutability="dynamic", unit="MB",
        description="Size at which the log file is rotated, when rotation is size.",
    )
    max_files: PositiveInt = option(
        30, scope="node", mutability="dynamic", unit="files",
        description="Rotated log files kept.",
    )
    include_source_location: Flag = option(
        True, scope="node", mutability="dynamic",
        description="Add file, line and module to each line.",
    )
    include_thread_id: Flag = option(
        False, scope="node", mutability="dynamic",
        description="Add the thread id to each line.",
    )
    include_span_context: Flag = option(
        True, scope="node", mutability="dynamic",
        description="Add the trace span to each line.",
    )
    sampling_rate: Fraction = option(
        1.0, scope="node", mutability="dynamic",
        description="Share of log lines kept; 1.0 keeps all.",
    )
    filters: dict[str, LogLevel] = option(
        default_factory=dict, scope="node", mutability="dynamic",
        description="Per-module log levels: module name -> level.",
        example={"butterfly_comm": "debug"},
    )


class HistogramsSection(Section):
    """Histogram bucket bounds, fixed when the metrics are registered."""

    request_latency_ms: Buckets = option(
        (1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0),
        scope="cluster", mutability="static", unit="ms",
        description="Bucket bounds of the request latency histogram.",
    )
    compute_latency_ms: Buckets = option(
        (10.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2000.0, 5000.0),
        scope="cluster", mutability="static", unit="ms",
        description="Bucket bounds of the computation time histogram.",
    )
    message_size_bytes: Buckets = option(
        (1024.0, 10240.0, 102400.0, 1048576.0, 10485760.0, 104857600.0),
        scope="cluster", mutability="static", unit="bytes",
        description="Bucket bounds of the message size histogram.",
    )
    queue_depth: Buckets = option(
        (1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0),
        scope="cluster", mutability="static", unit="requests",
        description="Bucket bounds of the queue depth histogram.",
    )


class CollectionSection(Section):
    """Which families of metrics are collected."""

    system_resources: Flag = option(
        True, scope="node", mutability="dynamic",
        description="CPU, memory, disk and network usage.",
    )
    network_io: Flag = option(
        True, scope="node", mutability="dynamic",
        description="Bytes sent and received, open connections.",
    )
    inference_latency: Flag = option(
        True, scope="node", mutability="dynamic",
        description="Inference latency and throughput.",
    )
    queue_depths: Flag = option(
        True, scope="node", mutability="dynamic",
        description="Queue depths and backpressure.",
    )
    byzantine_events: Flag = option(
        True, scope="node", mutability="dynamic",
        description="Agreement rounds, view changes and detected faults.",
    )
    partition_metrics: Flag = option(
        True, scope="node", mutability="dynamic",
        description="Partition assignments.",
    )
    model_loading: Flag = option(
        True, scope="node", mutability="dynamic",
        description="Model loading times and sizes.",
    )
    per_layer_metrics: Flag = option(
        False, scope="node", mutability="dynamic",
        description="Computation per model layer (verbose).",
    )


class MetricsSection(Section):
    """Metrics collection and export."""

    enabled: Flag = option(
        True, scope="node", mutability="dynamic",
        description="Collect metrics.",
    )
    exporter: MetricsExporter = option(
        "prometheus", scope="node", mutability="static",
        description="Where metrics are exported.",
    )
    export_interval_secs: PositiveInt = option(
        15, scope="cluster", mutability="dynamic", unit="secs",
        description="How often metrics are exported.",
    )
    listen_addr: Address = option(
        "0.0.0.0:9090", scope="node", mutability="static",
        description="Address of the metrics endpoint.",
    )
    prefix: MetricPrefix = option(
        "butterfly", scope="cluster", mutability="static",
        description="Prefix of every metric name.",
    )
    include_hostname: Flag = option(
        True, scope="node", mutability="static",
        description="Label metrics with the host name.",
    )
    include_node_id: Flag = option(
        True, scope="node", mutability="static",
        description="Label metrics with the node id.",
    )
    histograms: HistogramsSection = Field(default_factory=HistogramsSection)
    collection: CollectionSection = Field(default_factory=CollectionSection)


class TracingSection(Section):
    """Distributed tracing."""

    enabled: Flag = option(
        True, scope="node", mutability="dynamic",
        description="Record and export traces.",
    )
    exporter: TracingExporter = option(
        "jaeger", scope="node", mutability="static",
        description="Trace exporter protocol.",
    )
    endpoint: NonEmptyStr = option(
        "http://localhost:14268/api/traces", scope="node", mutability="static",
        description="URL of the tracing backend.",
    )
    sampling_rate: Fraction = option(
        0.1, scope="node", mutability="dynamic",
        description="Share of requests traced; 1.0 traces all.",
    )
    include_baggage: Flag = option(
        True, scope="node", mutability="dynamic",
        description="Propagate baggage items across services.",
    )
    max_attributes: NonNegativeInt = option(
        32, scope="node", mutability="dynamic", unit="attributes",
        description="Most attributes kept per span.",
    )
    max_events: NonNegativeInt = option(
        128, scope="node", mutability="dynamic", unit="events",
        description="Most events kept per span.",
    )
    export_timeout_ms: PositiveInt = option(
        5000, scope="node", mutability="dynamic", unit="ms",
        description="How long an export may take before it is abandoned.",
    )


class ProfilingSection(Section):
    """On-demand profiling; costly, meant for development."""

    enabled: Flag = option(
        False, scope="node", mutability="dynamic",
        description="Allow profiling.",
    )
    cpu_profiling: Flag = option(
        False, scope="node", mutability="dynamic",
        description="Sample where CPU time goes.",
    )
    cpu_sample_rate_hz: PositiveInt = option(
        100, scope="node", mutability="dynamic", unit="Hz",
        description="CPU samples per second.",
    )
    memory_profiling: Flag = option(
        False, scope="node", mutability="dynamic",
        description="Sample allocations.",
    )
    memory_sample_rate: PositiveInt = option(
        1000, scope="node", mutability="dynamic", unit="allocations",
        description="Record one allocation in this many; 1 records all (slow).",
    )
    flamegraph_output: NonEmptyStr = option(
        "/tmp/butterfly-profile.svg", scope="node", mutability="dynamic",
        description="File the flame graph is written to.",
    )
    profile_duration_secs: NonNegativeInt = option(
        60, scope="node", mutability="dynamic", unit="secs",
        description="How long a profile runs; 0 runs until stopped.",
    )


class ObservabilitySection(Section):
    """What the node reports about itself."""

    logging: LoggingSection = Field(default_factory=LoggingSection)
    metrics: MetricsSection = Field(default_factory=MetricsSection)
    tracing: TracingSection = Field(default_factory=TracingSection)
    profiling: ProfilingSection = Field(default_factory=ProfilingSection)
