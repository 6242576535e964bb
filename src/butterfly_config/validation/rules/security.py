"""Rules on [security]: files of enabled features, credentials that must be set, production policy.

Severity: a file missing on this machine follows the environment (error in
staging/production, warning in development/test), because a file is often
validated away from the machine it is meant for. A credential that is not
configured at all (encryption enabled without key_file, api_key auth without
api_key_file) is an error everywhere: the document itself is incomplete.
"""

from __future__ import annotations

from collections.abc import Iterator

from butterfly_config.errors import ConfigIssue, Severity
from butterfly_config.schema.root import ConfigModel

from ..base import rule
from ..context import ValidationContext
from ..files import required_file_issue


def _present(*issues: ConfigIssue | None) -> Iterator[ConfigIssue]:
    return (issue for issue in issues if issue is not None)


@rule("security.tls-files")
def tls_files_exist(config: ConfigModel, ctx: ValidationContext) -> Iterator[ConfigIssue]:
    """With TLS on, the node's certificate, its key and the CA certificate must be readable."""
    tls = config.security.tls
    if not tls.enabled or not ctx.check_paths:
        return
    disable = "(or set security.tls.enabled = false for a cluster without TLS)"
    yield from _present(
        required_file_issue(
            config, ctx, path="security.tls.cert_file", raw=tls.cert_file,
            what="TLS certificate file",
            hint=f"put this node's PEM certificate there or point cert_file at it {disable}",
        ),
        required_file_issue(
            config, ctx, path="security.tls.key_file", raw=tls.key_file,
            what="TLS private key file",
            hint=f"put the certificate's PEM private key there or point key_file at it {disable}",
        ),
        required_file_issue(
            config, ctx, path="security.tls.ca_file", raw=tls.ca_file,
            what="TLS CA certificate file",
            hint=f"put the PEM certificate of the cluster's CA there {disable}",
        ),
    )


@rule("security.signing-keys")
def signing_keys_exist(config: ConfigModel, ctx: ValidationContext) -> Iterator[ConfigIssue]:
    """Signing or verifying peer messages needs this node's key pair."""
    signing = config.security.signing
    in_use = signing.sign_all_messages or signing.verification != "none"
    if not in_use or not ctx.check_paths:
        return
    generate = "`butterfly keys generate --output-dir DIR` writes a key pair"
    yield from _present(
        required_file_issue(
            config, ctx, path="security.signing.private_key_file", raw=signing.private_key_file,
            what="signing private key file",
            hint=f"{generate}; point private_key_file at its .key file",
        ),
        required_file_issue(
            config, ctx, path="security.signing.public_key_file", raw=signing.public_key_file,
            what="signing public key file",
            hint=f"{generate}; point public_key_file at its .pub file",
        ),
    )


@rule("security.policy-file")
def policy_file_exists(config: ConfigModel, ctx: ValidationContext) -> Iterator[ConfigIssue]:
    """Role- or list-based access control reads its policy from a file."""
    access = config.security.access_control
    if not access.enabled or access.policy == "none" or not ctx.check_paths:
        return
    yield from _present(
        required_file_issue(
            config, ctx, path="security.access_control.policy_file", raw=access.policy_file,
            what=f"{access.policy} policy file",
            hint=(
                "write the policy (roles -> permissions) there or point policy_file at it, "
                'or set security.access_control.policy = "none"'
            ),
        )
    )


@rule("security.api-credentials")
def api_credentials_configured(
    config: ConfigModel, ctx: ValidationContext
) -> Iterator[ConfigIssue]:
    """The chosen API auth method has what it needs: a secret, a key file, or TLS client certs."""
    api = config.security.api
    if not api.require_auth:
        return
    if api.auth_method == "jwt" and ctx.check_paths:
        yield from _present(
            required_file_issue(
                config, ctx, path="security.api.jwt_secret_file", raw=api.jwt_secret_file,
                what="JWT secret file",
                hint=(
                    "write a random HS256 secret there (e.g. `head -c 32 /dev/urandom | "
                    "base64 > FILE`, readable only by the node) or point jwt_secret_file at it"
                ),
            )
        )
    elif api.auth_method == "api_key":
        if api.api_key_file is None:
            yield ConfigIssue(
                path="security.api.api_key_file",
                message='auth_method = "api_key" needs api_key_file, which is not set',
                hint="set security.api.api_key_file to the file of accepted API keys",
            )
        elif ctx.check_paths:
            yield from _present(
                required_file_issue(
                    config, ctx, path="security.api.api_key_file", raw=api.api_key_file,
                    what="API key file",
                    hint="write the accepted API keys there or point api_key_file at it",
                )
            )
    elif api.auth_method == "mtls":
        tls = config.security.tls
        if not tls.enabled:
            yield ConfigIssue(
                path="security.api.auth_method",
                message=(
                    'auth_method = "mtls" needs TLS, but security.tls.enabled = false: '
                    "no client can present a certificate"
                ),
                hint='enable security.tls, or choose auth_method = "jwt" or "api_key"',
            )
        elif not tls.verify_client:
            yield ConfigIssue(
                path="security.api.auth_method",
                message=(
                    'auth_method = "mtls" needs client certificates, but '
                    "security.tls.verify_client = false"
                ),
                hint="set security.tls.verify_client = true",
            )


@rule("security.encryption-key")
def encryption_key_configured(
    config: ConfigModel, ctx: ValidationContext
) -> Iterator[ConfigIssue]:
    """Encryption at rest cannot work without a key file."""
    encryption = config.security.encryption_at_rest
    if not encryption.enabled:
        return
    if encryption.key_file is None:
        yield ConfigIssue(
            path="security.encryption_at_rest.key_file",
            message="encryption at rest is enabled but key_file is not set",
            hint=(
                "set security.encryption_at_rest.key_file to a file holding the key "
                "(32 random bytes), or set security.encryption_at_rest.enabled = false"
            ),
        )
    elif ctx.check_paths:
        yield from _present(
            required_file_issue(
                config, ctx, path="security.encryption_at_rest.key_file",
                raw=encryption.key_file,
                what="encryption key file",
                hint="put the key there or point key_file at it; data encrypted with a lost "
                "key cannot be read back",
            )
        )


def _policy_severity(environment: str) -> tuple[Severity, str] | None:
    if environment == "production":
        return "error", "not allowed in production"
    if environment == "staging":
        return "warning", "production refuses this"
    return None


@rule("security.production-policy")
def production_is_locked_down(
    config: ConfigModel, ctx: ValidationContext
) -> Iterator[ConfigIssue]:
    """Production refuses unverified peer messages and an API without authentication.

    An error in production, a warning in staging (so the gap shows before
    promotion), nothing in development and test.
    """
    decided = _policy_severity(ctx.environment_of(config))
    if decided is None:
        return
    severity, verdict = decided
    if config.security.signing.verification == "none":
        yield ConfigIssue(
            path="security.signing.verification",
            message=(
                'verification = "none" accepts unsigned and forged peer messages, so one '
                f"Byzantine node can speak for others: {verdict}"
            ),
            hint='set security.signing.verification = "strict"',
            severity=severity,
        )
    api = config.security.api
    if not api.require_auth:
        yield ConfigIssue(
            path="security.api.require_auth",
            message=(
                "require_auth = false lets anyone who reaches the HTTP API read and change "
                f"the configuration: {verdict}"
            ),
            hint='set security.api.require_auth = true with auth_method "jwt", "api_key" or "mtls"',
            severity=severity,
        )
    elif api.auth_method == "none":
        yield ConfigIssue(
            path="security.api.auth_method",
            message=(
                'auth_method = "none" lets anyone who reaches the HTTP API read and change '
                f"the configuration: {verdict}"
            ),
            hint='choose auth_method "jwt", "api_key" or "mtls"',
            severity=severity,
        )


RULES = (
    tls_files_exist,
    signing_keys_exist,
    policy_file_exists,
    api_credentials_configured,
    encryption_key_configured,
    production_is_locked_down,
)
