"""Rules on [byzantine]: cluster size against f, fast path, detector, reputation, view change."""

from __future__ import annotations

import pytest
from validation_helpers import make_model, member_tables, paths_of, run_rule, severities_of

from butterfly_config.validation import max_faults


@pytest.mark.parametrize(("n", "f"), [(4, 1), (5, 1), (7, 2), (10, 3), (13, 4)])
def test_enough_members_pass(n: int, f: int) -> None:
    model = make_model({"byzantine.f_value": f}, cluster={"members": member_tables(n)})
    assert run_rule("byzantine.cluster-size", model) == []


@pytest.mark.parametrize(("n", "f"), [(1, 1), (3, 1), (4, 2), (6, 2), (9, 3)])
def test_too_few_members_for_f_is_an_error_in_every_environment(n: int, f: int) -> None:
    model = make_model({"byzantine.f_value": f}, cluster={"members": member_tables(n)})
    for environment in ("development", "production"):
        (issue,) = run_rule("byzantine.cluster-size", model, environment=environment)
        assert issue.severity == "error"
        assert issue.path == "byzantine.f_value"
        assert f"needs n >= 3f+1 = {3 * f + 1} members" in issue.message
        assert "'2f+1 nodes' is enough only for crash faults" in issue.message
        assert f"add {3 * f + 1 - n} more member" in issue.hint


def test_hint_offers_the_largest_tolerable_f_when_there_is_one() -> None:
    model = make_model({"byzantine.f_value": 3}, cluster={"members": member_tables(8)})
    (issue,) = run_rule("byzantine.cluster-size", model)
    assert max_faults(8) == 2
    assert issue.hint == (
        "add 2 more members to cluster.members, or lower byzantine.f_value to 2 "
        "(the most 8 members tolerate)"
    )
    tiny = make_model(cluster={"members": member_tables(2)})
    (issue,) = run_rule("byzantine.cluster-size", tiny)
    assert issue.message.startswith("2 members cannot tolerate f=1")
    assert issue.hint == (
        "add 2 more members to cluster.members: fewer than 4 members cannot tolerate "
        "any Byzantine fault"
    )


def test_standalone_is_a_warning_even_in_production() -> None:
    (issue,) = run_rule("byzantine.cluster-size", make_model(), environment="production")
    assert issue.severity == "warning"
    assert issue.path == "cluster.members"
    assert "standalone" in issue.message and "without fault tolerance" in issue.message


@pytest.mark.parametrize(
    ("members", "value", "protocol", "expected"),
    [
        (4, 0, "optimistic_pbft", []),
        (4, 4, "optimistic_pbft", []),
        (4, 3, "optimistic_pbft", ["error"]),
        (4, 5, "optimistic_pbft", ["error"]),
        (7, 5, "optimistic_pbft", ["error"]),
        (4, 3, "standard_pbft", []),  # no fast path at all
        (0, 1, "optimistic_pbft", []),  # standalone: n = 1
        (0, 3, "optimistic_pbft", ["warning"]),  # standalone: size checks are warnings
    ],
)
def test_fast_path_quorum_is_zero_or_all_members(
    members: int, value: int, protocol: str, expected: list[str]
) -> None:
    model = make_model(
        {
            "byzantine.agreement.fast_path_quorum": value,
            "byzantine.agreement.protocol": protocol,
        },
        cluster={"members": member_tables(members)},
    )
    issues = run_rule("byzantine.fast-path-quorum", model)
    assert severities_of(issues) == expected
    assert all(i.path == "byzantine.agreement.fast_path_quorum" for i in issues)


def test_fast_path_messages_explain_why() -> None:
    below = make_model(
        {"byzantine.agreement.fast_path_quorum": 3}, cluster={"members": member_tables(4)}
    )
    (issue,) = run_rule("byzantine.fast-path-quorum", below)
    assert "is below the 4 members" in issue.message
    assert "two different values could be decided for one revision" in issue.message
    assert issue.hint == "set it to 0 (meaning all 4 members) or to 4"
    above = make_model(
        {"byzantine.agreement.fast_path_quorum": 9}, cluster={"members": member_tables(4)}
    )
    (issue,) = run_rule("byzantine.fast-path-quorum", above)
    assert "could never be taken" in issue.message


@pytest.mark.parametrize(("suspect", "failed", "fails"), [(8.0, 12.0, False), (8.0, 8.0, True),
                                                          (12.0, 8.0, True)])
def test_phi_failed_above_suspect(suspect: float, failed: float, fails: bool) -> None:
    model = make_model(
        {
            "byzantine.failure_detection.phi_suspect_threshold": suspect,
            "byzantine.failure_detection.phi_failed_threshold": failed,
        }
    )
    issues = run_rule("byzantine.phi-thresholds", model)
    assert paths_of(issues) == (
        ["byzantine.failure_detection.phi_failed_threshold"] if fails else []
    )


@pytest.mark.parametrize(
    ("low", "interval", "high", "adaptive", "path"),
    [
        (50, 100, 500, True, None),
        (100, 100, 100, True, None),
        (50, 40, 500, True, "heartbeat_interval_ms"),
        (50, 600, 500, True, "heartbeat_interval_ms"),
        (600, 100, 500, True, "min_heartbeat_interval_ms"),
        (50, 600, 500, False, None),  # fixed interval: bounds unused
    ],
)
def test_heartbeat_within_adaptive_bounds(
    low: int, interval: int, high: int, adaptive: bool, path: str | None
) -> None:
    model = make_model(
        {
            "byzantine.failure_detection.min_heartbeat_interval_ms": low,
            "byzantine.failure_detection.heartbeat_interval_ms": interval,
            "byzantine.failure_detection.max_heartbeat_interval_ms": high,
            "byzantine.failure_detection.adaptive_heartbeat": adaptive,
        }
    )
    issues = run_rule("byzantine.heartbeat-bounds", model)
    assert paths_of(issues) == ([] if path is None else [f"byzantine.failure_detection.{path}"])


@pytest.mark.parametrize(
    ("initial", "suspect", "isolate", "enabled", "paths"),
    [
        (100.0, 50.0, 10.0, True, []),
        (100.0, 50.0, 50.0, True, ["isolate_threshold"]),
        (100.0, 50.0, 60.0, True, ["isolate_threshold"]),
        (40.0, 50.0, 10.0, True, ["suspect_threshold"]),
        (40.0, 50.0, 60.0, True, ["isolate_threshold", "suspect_threshold"]),
        (40.0, 50.0, 60.0, False, []),
    ],
)
def test_reputation_thresholds_ordered_when_enabled(
    initial: float, suspect: float, isolate: float, enabled: bool, paths: list[str]
) -> None:
    model = make_model(
        {
            "byzantine.reputation.initial_score": initial,
            "byzantine.reputation.suspect_threshold": suspect,
            "byzantine.reputation.isolate_threshold": isolate,
            "byzantine.reputation.enabled": enabled,
        }
    )
    issues = run_rule("byzantine.reputation-thresholds", model)
    assert paths_of(issues) == [f"byzantine.reputation.{p}" for p in paths]


def test_view_change_timeout_outlasts_the_longest_phase() -> None:
    assert run_rule("byzantine.view-change-timeout", make_model()) == []
    slow = make_model({"byzantine.timeout_multiplier": 4.0})
    (issue,) = run_rule("byzantine.view-change-timeout", slow)
    assert issue.severity == "warning"
    assert issue.message.startswith(
        "view_change.timeout_ms (10000 ms) is not longer than agreement.commit_timeout_ms x "
        "timeout_multiplier (3000 ms x 4 = 12000 ms)"
    )
    short = make_model({"byzantine.view_change.timeout_ms": 3000})
    assert paths_of(run_rule("byzantine.view-change-timeout", short)) == [
        "byzantine.view_change.timeout_ms"
    ]
