"""Rules on [observability] and [metadata]: log file location, tracing URL, cluster name."""

from __future__ import annotations

from pathlib import Path

import pytest
from validation_helpers import make_files, make_model, paths_of, run_rule, severities_of


def test_log_file_not_checked_unless_output_is_file(tmp_path: Path) -> None:
    blocked = make_files(tmp_path, "plain")["plain"] + "/logs/b.log"
    model = make_model(
        {"observability.logging.output": "stderr", "observability.logging.file_path": blocked}
    )
    assert run_rule("observability.log-file", model) == []


def test_log_file_in_a_creatable_directory_passes(tmp_path: Path) -> None:
    nested = make_model({"observability.logging.file_path": str(tmp_path / "a" / "b" / "x.log")})
    assert run_rule("observability.log-file", nested, environment="production") == []
    existing = make_files(tmp_path, "x.log")["x.log"]
    model = make_model({"observability.logging.file_path": existing})
    assert run_rule("observability.log-file", model, environment="production") == []


@pytest.mark.parametrize(
    ("environment", "severity"), [("development", "warning"), ("production", "error")]
)
def test_log_file_below_a_regular_file_cannot_be_created(
    tmp_path: Path, environment: str, severity: str
) -> None:
    plain = make_files(tmp_path, "plain")["plain"]
    model = make_model({"observability.logging.file_path": f"{plain}/logs/b.log"})
    (issue,) = run_rule("observability.log-file", model, environment=environment)
    assert issue.severity == severity
    assert issue.path == "observability.logging.file_path"
    assert issue.message == (
        f"log file '{plain}/logs/b.log' cannot be created: '{plain}' is not a directory"
    )


def test_log_file_that_is_a_directory(tmp_path: Path) -> None:
    model = make_model({"observability.logging.file_path": str(tmp_path)})
    (issue,) = run_rule("observability.log-file", model)
    assert issue.message.endswith("is a directory, not a file")
    assert run_rule("observability.log-file", model, check_paths=False) == []


@pytest.mark.parametrize(
    ("exporter", "endpoint", "problem"),
    [
        ("jaeger", "http://localhost:14268/api/traces", None),
        ("zipkin", "https://zipkin.example:9411/api/v2/spans", None),
        ("otlp", "grpc://collector:4317", None),
        ("otlp", "http://[::1]:4318/v1/traces", None),
        ("jaeger", "grpc://collector:4317", "does not start with http:// or https://"),
        ("jaeger", "localhost:14268", "does not start with http:// or https://"),
        ("zipkin", "http://", "names no host"),
        ("jaeger", "http://host:99999/x", "is not a valid URL (Port out of range 0-65535)"),
    ],
)
def test_tracing_endpoint_is_a_url_for_the_exporter(
    exporter: str, endpoint: str, problem: str | None
) -> None:
    model = make_model(
        {"observability.tracing.exporter": exporter, "observability.tracing.endpoint": endpoint}
    )
    issues = run_rule("observability.tracing-endpoint", model)
    if problem is None:
        assert issues == []
    else:
        (issue,) = issues
        assert issue.message == f"'{endpoint}' {problem}, as the {exporter} exporter needs"


def test_tracing_endpoint_ignored_when_tracing_is_off() -> None:
    model = make_model(
        {"observability.tracing.enabled": False, "observability.tracing.endpoint": "nonsense"}
    )
    assert run_rule("observability.tracing-endpoint", model) == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [("butterfly-main", []), ("   ", ["error"]), (" butterfly-main", ["error"]),
     ("butterfly-main\t", ["error"])],
)
def test_cluster_name_is_not_blank_or_padded(name: str, expected: list[str]) -> None:
    issues = run_rule("metadata.cluster-name", make_model({"metadata.cluster_name": name}))
    assert severities_of(issues) == expected
    assert paths_of(issues) == ["metadata.cluster_name"] * len(expected)
