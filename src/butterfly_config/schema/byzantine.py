"""[byzantine]: fault tolerance, failure detection, agreement, checkpoints, reputation."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import Section
from .options import option
from .types import (
    Flag,
    Multiplier,
    NonEmptyStr,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
)

AgreementProtocol = Literal["optimistic_pbft", "standard_pbft"]


class FailureDetectionSection(Section):
    """Phi-accrual failure detector fed by heartbeats."""

    heartbeat_interval_ms: PositiveInt = option(
        100, scope="cluster", mutability="dynamic", unit="ms",
        description="How often nodes send each other heartbeats.",
    )
    phi_suspect_threshold: PositiveFloat = option(
        8.0, scope="cluster", mutability="dynamic",
        description="Phi above which a peer is suspected; higher tolerates slower peers.",
    )
    phi_failed_threshold: PositiveFloat = option(
        12.0, scope="cluster", mutability="dynamic",
        description="Phi above which a peer is declared failed; must exceed the suspect threshold.",
    )
    max_heartbeat_history: PositiveInt = option(
        1000, scope="node", mutability="dynamic",
        description="Heartbeat arrivals kept per peer to estimate the phi distribution.",
    )
    adaptive_heartbeat: Flag = option(
        True, scope="cluster", mutability="dynamic",
        description="Adapt the heartbeat interval to the network, within the bounds below.",
    )
    min_heartbeat_interval_ms: PositiveInt = option(
        50, scope="cluster", mutability="dynamic", unit="ms",
        description="Shortest interval the adaptive heartbeat may use.",
    )
    max_heartbeat_interval_ms: PositiveInt = option(
        500, scope="cluster", mutability="dynamic", unit="ms",
        description="Longest interval the adaptive heartbeat may use.",
    )


class AgreementSection(Section):
    """The agreement protocol and its phase timeouts."""

    protocol: AgreementProtocol = option(
        "optimistic_pbft", scope="cluster", mutability="dynamic",
        description="Agreement variant: optimistic tries a fast path, standard runs every phase.",
    )
    pre_prepare_timeout_ms: PositiveInt = option(
        1000, scope="cluster", mutability="dynamic", unit="ms",
        description="How long the coordinator waits for members to answer a proposal.",
    )
    prepare_timeout_ms: PositiveInt = option(
        2000, scope="cluster", mutability="dynamic", unit="ms",
        description="How long to wait for a quorum of prepare votes.",
    )
    commit_timeout_ms: PositiveInt = option(
        3000, scope="cluster", mutability="dynamic", unit="ms",
        description="How long to wait for a quorum of commit votes.",
    )
    max_in_flight_agreements: PositiveInt = option(
        10, scope="node", mutability="dynamic",
        description="Agreements this node tracks at once; bounds their memory.",
    )
    fast_path_quorum: NonNegativeInt = option(
        0, scope="cluster", mutability="dynamic",
        description="Matching votes needed to skip the commit round; 0 means all members.",
    )
    speculative_execution: Flag = option(
        False, scope="cluster", mutability="dynamic",
        description="Start executing before agreement completes, undoing it if agreement fails.",
    )


class CheckpointSection(Section):
    """When checkpoints are taken and how long they are kept."""

    interval_tokens: PositiveInt = option(
        10, scope="cluster", mutability="dynamic", unit="tokens",
        description="Take a checkpoint every this many processed tokens.",
    )
    interval_seconds: PositiveInt | None = option(
        None, scope="cluster", mutability="dynamic", unit="secs",
        description="Also take a checkpoint this often, whatever the token count; off if unset.",
        example=60,
    )
    retention_count: PositiveInt = option(
        100, scope="node", mutability="dynamic",
        description="Most recent checkpoints kept for rollback.",
    )
    compression: Flag = option(
        True, scope="node", mutability="dynamic",
        description="Compress checkpoints on disk.",
    )
    sync_to_disk: Flag = option(
        True, scope="node", mutability="dynamic",
        description="Flush each checkpoint to disk before going on: durable but slower.",
    )
    checkpoint_dir: NonEmptyStr | None = option(
        None, scope="node", mutability="static",
        description="Where checkpoints are stored; under node.data_dir if unset.",
        example="/mnt/fast-ssd/checkpoints",
    )
    gc_enabled: Flag = option(
        True, scope="node", mutability="dynamic",
        description="Delete checkpoints beyond the retention count.",
    )
    gc_interval_seconds: PositiveInt = option(
        300, scope="node", mutability="dynamic", unit="secs",
        description="How often old checkpoints are collected.",
    )


class ReputationSection(Section):
    """Scores that track how each member behaves; low scorers are isolated."""

    enabled: Flag = option(
        True, scope="cluster", mutability="dynamic",
        description="Track member reputation and isolate members that misbehave.",
    )
    initial_score: NonNegativeFloat = option(
        100.0, scope="cluster", mutability="dynamic", unit="points",
        description="Score a member starts with.",
    )
    suspect_threshold: NonNegativeFloat = option(
        50.0, scope="cluster", mutability="dynamic", unit="points",
        description="Below this score a member is watched more closely.",
    )
    isolate_threshold: NonNegativeFloat = option(
        10.0, scope="cluster", mutability="dynamic", unit="points",
        description="Below this score a member is isolated: its messages and vetoes are ignored.",
    )
    recovery_rate: NonNegativeFloat = option(
        1.0, scope="cluster", mutability="dynamic", unit="points",
        description="Points regained per correct interaction.",
    )
    decay_rate: NonNegativeFloat = option(
        5.0, scope="cluster", mutability="dynamic", unit="points",
        description="Points lost per failed interaction.",
    )
    critical_failure_penalty: NonNegativeFloat = option(
        25.0, scope="cluster", mutability="dynamic", unit="points",
        description="Points lost for proven misbehaviour, such as conflicting signed messages.",
    )
    persist_scores: Flag = option(
        True, scope="node", mutability="dynamic",
        description="Keep scores across restarts.",
    )


class ViewChangeSection(Section):
    """Replacing a coordinator that makes no progress."""

    timeout_ms: PositiveInt = option(
        10000, scope="cluster", mutability="dynamic", unit="ms",
        description="Without progress for this long, members move to the next view.",
    )
    max_view_change_attempts: PositiveInt = option(
        5, scope="cluster", mutability="dynamic",
        description="View changes tried in a row before the failure is reported.",
    )
    backoff_multiplier: Multiplier = option(
        1.5, scope="cluster", mutability="dynamic",
        description="Factor applied to the view-change timeout after each attempt.",
    )


class ByzantineSection(Section):
    """Tolerance of crashed and lying nodes."""

    f_value: PositiveInt = option(
        1, scope="cluster", mutability="static",
        description="Byzantine members tolerated; the cluster needs at least 3f+1 members.",
    )
    timeout_multiplier: PositiveFloat = option(
        1.0, scope="cluster", mutability="dynamic",
        description="Factor applied to every agreement timeout; raise it on slow networks.",
    )
    failure_detection: FailureDetectionSection = Field(default_factory=FailureDetectionSection)
    agreement: AgreementSection = Field(default_factory=AgreementSection)
    checkpoint: CheckpointSection = Field(default_factory=CheckpointSection)
    reputation: ReputationSection = Field(default_factory=ReputationSection)
    view_change: ViewChangeSection = Field(default_factory=ViewChangeSection)
