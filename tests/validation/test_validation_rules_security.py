"""Rules on [security]: files of enabled features, credentials, production policy."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from validation_helpers import make_files, make_model, paths_of, run_rule, severities_of

TLS_FILES = {
    "security.tls.cert_file": "certs/node.crt",
    "security.tls.key_file": "certs/node.key",
    "security.tls.ca_file": "certs/ca.crt",
}
SIGNING_FILES = {
    "security.signing.private_key_file": "keys/signing.key",
    "security.signing.public_key_file": "keys/signing.pub",
}


def _existing(tmp_path: Path, options: dict[str, str]) -> dict[str, Any]:
    made = make_files(tmp_path, *options.values())
    return {option: made[name] for option, name in options.items()}


def test_tls_files_present_pass(tmp_path: Path) -> None:
    model = make_model(_existing(tmp_path, TLS_FILES))
    assert run_rule("security.tls-files", model, environment="production") == []


@pytest.mark.parametrize(
    ("environment", "severity"),
    [("development", "warning"), ("test", "warning"), ("staging", "error"),
     ("production", "error")],
)
def test_missing_tls_files_severity_follows_environment(environment: str, severity: str) -> None:
    issues = run_rule("security.tls-files", make_model(), environment=environment)
    assert paths_of(issues) == list(TLS_FILES)
    assert set(severities_of(issues)) == {severity}


def test_tls_files_are_not_checked_when_tls_is_off_or_paths_are_skipped() -> None:
    off = make_model({"security.tls.enabled": False})
    assert run_rule("security.tls-files", off, environment="production") == []
    assert run_rule("security.tls-files", make_model(), check_paths=False) == []


def test_a_directory_or_a_relative_path_is_reported_in_words(tmp_path: Path) -> None:
    files = _existing(tmp_path, TLS_FILES)
    files["security.tls.cert_file"] = str(tmp_path)
    files["security.tls.ca_file"] = "certs/other-ca.crt"
    issues = run_rule("security.tls-files", make_model(files), base_dir=tmp_path)
    assert [i.message for i in issues] == [
        f"TLS certificate file '{tmp_path}' is a directory, not a file",
        f"TLS CA certificate file 'certs/other-ca.crt' (resolved to "
        f"'{tmp_path}/certs/other-ca.crt') does not exist",
    ]


def test_relative_paths_resolve_against_base_dir(tmp_path: Path) -> None:
    make_files(tmp_path, *TLS_FILES.values())
    model = make_model(TLS_FILES)
    assert run_rule("security.tls-files", model, base_dir=tmp_path) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_an_unreadable_file_is_reported(tmp_path: Path) -> None:
    files = _existing(tmp_path, TLS_FILES)
    Path(files["security.tls.key_file"]).chmod(0)
    (issue,) = run_rule("security.tls-files", make_model(files))
    assert issue.message.endswith("is not readable by this user")


@pytest.mark.parametrize(
    ("sign_all", "verification", "checked"),
    [(True, "strict", True), (False, "warn", True), (False, "none", False)],
)
def test_signing_keys_checked_when_signing_or_verifying(
    sign_all: bool, verification: str, checked: bool
) -> None:
    model = make_model(
        {"security.signing.sign_all_messages": sign_all,
         "security.signing.verification": verification}
    )
    issues = run_rule("security.signing-keys", model)
    assert paths_of(issues) == (list(SIGNING_FILES) if checked else [])


def test_signing_keys_present_pass(tmp_path: Path) -> None:
    model = make_model(_existing(tmp_path, SIGNING_FILES))
    assert run_rule("security.signing-keys", model, environment="production") == []


@pytest.mark.parametrize(
    ("enabled", "policy", "checked"),
    [(True, "rbac", True), (True, "acl", True), (True, "none", False), (False, "rbac", False)],
)
def test_policy_file_checked_for_rbac_and_acl(enabled: bool, policy: str, checked: bool) -> None:
    model = make_model(
        {"security.access_control.enabled": enabled, "security.access_control.policy": policy}
    )
    issues = run_rule("security.policy-file", model, environment="production")
    assert paths_of(issues) == (["security.access_control.policy_file"] if checked else [])
    if checked:
        assert issues[0].message.startswith(f"{policy} policy file ")
        assert issues[0].severity == "error"


def test_jwt_secret_file_checked_only_with_jwt_auth(tmp_path: Path) -> None:
    (issue,) = run_rule("security.api-credentials", make_model())
    assert (issue.path, issue.severity) == ("security.api.jwt_secret_file", "warning")
    present = make_model(_existing(tmp_path, {"security.api.jwt_secret_file": "jwt.key"}))
    assert run_rule("security.api-credentials", present) == []
    no_auth = make_model({"security.api.require_auth": False})
    assert run_rule("security.api-credentials", no_auth) == []


def test_api_key_auth_needs_a_configured_key_file(tmp_path: Path) -> None:
    unset = make_model({"security.api.auth_method": "api_key"})
    (issue,) = run_rule("security.api-credentials", unset, environment="development")
    assert issue.severity == "error"  # a missing setting, not a missing file: error everywhere
    assert issue.message == 'auth_method = "api_key" needs api_key_file, which is not set'
    missing = make_model(
        {"security.api.auth_method": "api_key", "security.api.api_key_file": "/nonexistent/keys"}
    )
    (issue,) = run_rule("security.api-credentials", missing)
    assert (issue.severity, issue.path) == ("warning", "security.api.api_key_file")
    present = make_model(
        {"security.api.auth_method": "api_key"}
        | _existing(tmp_path, {"security.api.api_key_file": "keys.toml"})
    )
    assert run_rule("security.api-credentials", present) == []


def test_mtls_auth_needs_tls_with_client_certificates() -> None:
    no_tls = make_model({"security.api.auth_method": "mtls", "security.tls.enabled": False})
    (issue,) = run_rule("security.api-credentials", no_tls)
    assert issue.path == "security.api.auth_method"
    assert "security.tls.enabled = false" in issue.message
    no_client = make_model(
        {"security.api.auth_method": "mtls", "security.tls.verify_client": False}
    )
    (issue,) = run_rule("security.api-credentials", no_client)
    assert "verify_client = false" in issue.message
    mtls = make_model({"security.api.auth_method": "mtls"})
    assert run_rule("security.api-credentials", mtls) == []


def test_encryption_at_rest_needs_a_key(tmp_path: Path) -> None:
    assert run_rule("security.encryption-key", make_model()) == []  # disabled
    unset = make_model({"security.encryption_at_rest.enabled": True})
    (issue,) = run_rule("security.encryption-key", unset, environment="test")
    assert (issue.severity, issue.path) == ("error", "security.encryption_at_rest.key_file")
    missing = make_model(
        {"security.encryption_at_rest.enabled": True,
         "security.encryption_at_rest.key_file": "/nonexistent/enc.key"}
    )
    assert severities_of(run_rule("security.encryption-key", missing)) == ["warning"]
    assert severities_of(
        run_rule("security.encryption-key", missing, environment="production")
    ) == ["error"]
    assert run_rule("security.encryption-key", missing, check_paths=False) == []
    present = make_model(
        {"security.encryption_at_rest.enabled": True}
        | _existing(tmp_path, {"security.encryption_at_rest.key_file": "enc.key"})
    )
    assert run_rule("security.encryption-key", present, environment="production") == []


@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        ({"security.signing.verification": "none"}, "security.signing.verification"),
        ({"security.api.require_auth": False}, "security.api.require_auth"),
        ({"security.api.auth_method": "none"}, "security.api.auth_method"),
    ],
)
@pytest.mark.parametrize(
    ("environment", "expected"),
    [("production", ["error"]), ("staging", ["warning"]), ("development", []), ("test", [])],
)
def test_production_refuses_unverified_peers_and_open_api(
    overrides: dict[str, Any], path: str, environment: str, expected: list[str]
) -> None:
    issues = run_rule("security.production-policy", make_model(overrides), environment=environment)
    assert severities_of(issues) == expected
    assert paths_of(issues) == [path] * len(expected)


def test_production_defaults_pass_the_policy() -> None:
    assert run_rule("security.production-policy", make_model(), environment="production") == []


def test_production_policy_message() -> None:
    model = make_model({"security.api.require_auth": False})
    (issue,) = run_rule("security.production-policy", model, environment="production")
    assert issue.message == (
        "require_auth = false lets anyone who reaches the HTTP API read and change the "
        "configuration: not allowed in production"
    )
