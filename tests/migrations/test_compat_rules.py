"""Semantic-version compatibility between a configuration and a cluster."""

from __future__ import annotations

import pytest

from butterfly_config.compat import check, parse_version
from butterfly_config.errors import UsageError


def _check(node: str, cluster: str):
    return check(parse_version(node), parse_version(cluster))


@pytest.mark.parametrize(
    ("node", "cluster", "verdict"),
    [
        ("1.0.0", "1.0.0", "same"),
        ("1.0.0", "1.0.5", "compatible"),
        ("1.0.5", "1.0.0", "compatible"),
        ("1.2.0", "1.0.0", "compatible"),
        ("1.0.0", "1.3.1", "compatible"),
        ("2.0.0", "1.0.0", "incompatible"),
        ("1.9.9", "2.0.0", "incompatible"),
        ("0.1.0", "0.2.0", "incompatible"),
        ("0.2.0", "0.2.7", "compatible"),
        ("1.0.0-rc.1", "1.0.0", "compatible"),
    ],
)
def test_matrix(node: str, cluster: str, verdict: str) -> None:
    assert _check(node, cluster).verdict == verdict


def test_patch_difference_is_informational() -> None:
    result = _check("1.0.0", "1.0.5")
    assert result.compatible and not result.warnings
    assert any("patch" in r and "cluster is newer" in r for r in result.reasons)


def test_newer_minor_in_config_warns_about_unknown_options() -> None:
    result = _check("1.2.0", "1.0.0")
    assert result.compatible
    [warning] = result.warnings
    assert "newer than the cluster" in warning and "options" in warning


def test_newer_minor_in_cluster_warns_about_defaults() -> None:
    [warning] = _check("1.0.0", "1.1.0").warnings
    assert "cluster (1.1.0) is newer" in warning


def test_major_mismatch_says_why() -> None:
    result = _check("2.0.0", "1.0.0")
    assert not result.compatible
    assert "major" in result.reasons[0]


@pytest.mark.parametrize("text", ["1.0", "v1.0.0", "1.0.0.0", "01.0.0", "garbage", "", "1.x.0"])
def test_invalid_versions_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_version(text, "--cluster-version")
    assert info.value.exit_code == 2
    assert "--cluster-version" in info.value.message


def test_build_metadata_is_ignored_for_ordering() -> None:
    assert parse_version("1.2.3+build.7") == parse_version("1.2.3")
    assert _check("1.2.3+a", "1.2.3+b").verdict == "same"
