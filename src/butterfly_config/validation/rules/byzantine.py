"""Rules on [byzantine]: cluster size against f, the fast path, detector and reputation bounds.

`f_value >= 1` and `checkpoint.interval_tokens > 0` are schema constraints.
"""

from __future__ import annotations

from collections.abc import Iterator

from butterfly_config.errors import ConfigIssue, Severity
from butterfly_config.schema.root import ConfigModel

from ..base import rule
from ..context import ValidationContext
from ..quorum import max_faults, min_members, quorum_size


def _members(count: int) -> str:
    return f"{count} member" if count == 1 else f"{count} members"


def _cluster_size_hint(n: int, f: int) -> str:
    missing = min_members(f) - n
    tolerable = max_faults(n)
    add = f"add {missing} more member{'s' if missing != 1 else ''} to cluster.members"
    if tolerable == 0:
        return f"{add}: fewer than 4 members cannot tolerate any Byzantine fault"
    return f"{add}, or lower byzantine.f_value to {tolerable} (the most {_members(n)} tolerate)"


@rule("byzantine.cluster-size")
def enough_members_for_f(config: ConfigModel, ctx: ValidationContext) -> Iterator[ConfigIssue]:
    """n >= 3f+1 members; an empty member list means a standalone node (a warning)."""
    n = len(config.cluster.members)
    f = config.byzantine.f_value
    if n == 0:
        yield ConfigIssue(
            path="cluster.members",
            message=(
                "no cluster members are configured: this node runs standalone, a one-member "
                f"cluster without fault tolerance (byzantine.f_value = {f} cannot be honoured)"
            ),
            hint=(
                "list every node, this one included, under [[cluster.members]] with node_id, "
                f"addr, api_addr and public_key: at least 3f+1 = {min_members(f)} for f = {f}"
            ),
            severity="warning",
        )
        return
    if n < min_members(f):
        yield ConfigIssue(
            path="byzantine.f_value",
            message=(
                f"{_members(n)} cannot tolerate f={f} Byzantine faults: BFT agreement needs "
                f"n >= 3f+1 = {min_members(f)} members (quorum q = ceil((n+f+1)/2) = "
                f"{quorum_size(min_members(f), f)} of {min_members(f)}); "
                "'2f+1 nodes' is enough only for crash faults"
            ),
            hint=_cluster_size_hint(n, f),
        )


@rule("byzantine.fast-path-quorum")
def fast_path_needs_every_member(
    config: ConfigModel, ctx: ValidationContext
) -> Iterator[ConfigIssue]:
    """The fast path skips the commit round, which is safe only with all n votes (0 means n)."""
    agreement = config.byzantine.agreement
    value = agreement.fast_path_quorum
    if agreement.protocol != "optimistic_pbft" or value == 0:
        return
    standalone = not config.cluster.members
    n = len(config.cluster.members) or 1
    if value == n:
        return
    severity: Severity = "warning" if standalone else "error"
    if value < n:
        yield ConfigIssue(
            path="byzantine.agreement.fast_path_quorum",
            message=(
                f"fast_path_quorum = {value} is below the {_members(n)}: the fast path decides "
                "without a commit round, which is safe only when every member voted for the "
                "same value; with fewer votes two different values could be decided for one "
                "revision"
            ),
            hint=f"set it to 0 (meaning all {_members(n)}) or to {n}",
            severity=severity,
        )
    else:
        yield ConfigIssue(
            path="byzantine.agreement.fast_path_quorum",
            message=(
                f"fast_path_quorum = {value} is more than the {_members(n)}: "
                "the fast path could never be taken"
            ),
            hint=f"set it to 0 (meaning all {_members(n)}) or to {n}",
            severity=severity,
        )


@rule("byzantine.phi-thresholds")
def failed_above_suspect(config: ConfigModel, ctx: ValidationContext) -> Iterator[ConfigIssue]:
    """A peer is suspected before it is declared failed."""
    detection = config.byzantine.failure_detection
    if detection.phi_failed_threshold <= detection.phi_suspect_threshold:
        yield ConfigIssue(
            path="byzantine.failure_detection.phi_failed_threshold",
            message=(
                f"phi_failed_threshold ({detection.phi_failed_threshold:g}) must be greater than "
                f"phi_suspect_threshold ({detection.phi_suspect_threshold:g}): a peer is "
                "suspected first and declared failed only later"
            ),
            hint="raise phi_failed_threshold or lower phi_suspect_threshold (typical: 8 and 12)",
        )


@rule("byzantine.heartbeat-bounds")
def heartbeat_within_bounds(config: ConfigModel, ctx: ValidationContext) -> Iterator[ConfigIssue]:
    """With adaptive heartbeats: min <= interval <= max (the bounds are unused otherwise)."""
    detection = config.byzantine.failure_detection
    if not detection.adaptive_heartbeat:
        return
    low = detection.min_heartbeat_interval_ms
    high = detection.max_heartbeat_interval_ms
    interval = detection.heartbeat_interval_ms
    if low > high:
        yield ConfigIssue(
            path="byzantine.failure_detection.min_heartbeat_interval_ms",
            message=(
                f"min_heartbeat_interval_ms ({low} ms) is larger than "
                f"max_heartbeat_interval_ms ({high} ms)"
            ),
            hint="make the minimum adaptive interval <= the maximum",
        )
    elif not low <= interval <= high:
        yield ConfigIssue(
            path="byzantine.failure_detection.heartbeat_interval_ms",
            message=(
                f"heartbeat_interval_ms ({interval} ms) is outside the adaptive range "
                f"{low}-{high} ms (min_heartbeat_interval_ms..max_heartbeat_interval_ms)"
            ),
            hint="choose an interval within the bounds, or widen the bounds",
        )


@rule("byzantine.reputation-thresholds")
def reputation_thresholds_ordered(
    config: ConfigModel, ctx: ValidationContext
) -> Iterator[ConfigIssue]:
    """When reputation is on: isolate < suspect <= initial score."""
    reputation = config.byzantine.reputation
    if not reputation.enabled:
        return
    if reputation.isolate_threshold >= reputation.suspect_threshold:
        yield ConfigIssue(
            path="byzantine.reputation.isolate_threshold",
            message=(
                f"isolate_threshold ({reputation.isolate_threshold:g}) must be below "
                f"suspect_threshold ({reputation.suspect_threshold:g}): a member is suspected "
                "before it is isolated"
            ),
            hint="lower byzantine.reputation.isolate_threshold or raise suspect_threshold",
        )
    if reputation.suspect_threshold > reputation.initial_score:
        yield ConfigIssue(
            path="byzantine.reputation.suspect_threshold",
            message=(
                f"suspect_threshold ({reputation.suspect_threshold:g}) is above initial_score "
                f"({reputation.initial_score:g}): every new member would start suspected"
            ),
            hint="lower byzantine.reputation.suspect_threshold or raise initial_score",
        )


@rule("byzantine.view-change-timeout")
def view_change_outlasts_phases(
    config: ConfigModel, ctx: ValidationContext
) -> Iterator[ConfigIssue]:
    """Replacing a coordinator should wait longer than any phase may take (a warning)."""
    byzantine = config.byzantine
    agreement = byzantine.agreement
    phases = {
        "pre_prepare_timeout_ms": agreement.pre_prepare_timeout_ms,
        "prepare_timeout_ms": agreement.prepare_timeout_ms,
        "commit_timeout_ms": agreement.commit_timeout_ms,
    }
    longest_name = max(phases, key=lambda name: phases[name])
    longest_ms = phases[longest_name] * byzantine.timeout_multiplier
    if byzantine.view_change.timeout_ms <= longest_ms:
        yield ConfigIssue(
            path="byzantine.view_change.timeout_ms",
            message=(
                f"view_change.timeout_ms ({byzantine.view_change.timeout_ms} ms) is not longer "
                f"than agreement.{longest_name} x timeout_multiplier ({phases[longest_name]} ms "
                f"x {byzantine.timeout_multiplier:g} = {longest_ms:g} ms): members would replace "
                "a coordinator whose round is still within its timeouts"
            ),
            hint=f"raise byzantine.view_change.timeout_ms above {longest_ms:g} ms",
            severity="warning",
        )


RULES = (
    enough_members_for_f,
    fast_path_needs_every_member,
    failed_above_suspect,
    heartbeat_within_bounds,
    reputation_thresholds_ordered,
    view_change_outlasts_phases,
)
