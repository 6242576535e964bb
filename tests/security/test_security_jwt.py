"""JWT verification: every failure has its own error and maps to 401."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import jwt
import pytest

from butterfly_config.errors import ConfigError, ConfigIOError
from butterfly_config.node.security import (
    AuthError,
    BadSignature,
    JwtVerifier,
    MalformedToken,
    MissingCredentials,
    TokenExpired,
    TokenNotYetValid,
    WrongAudience,
    WrongIssuer,
    bearer_token,
    create_token,
    load_jwt_secret,
)

SECRET = b"0123456789abcdef0123456789abcdef"
NOW = 1_800_000_000.0
ISS = "butterfly-cluster"
AUD = "butterfly-api"


def verifier(now: float = NOW) -> JwtVerifier:
    return JwtVerifier(SECRET, ISS, AUD, clock=lambda: now)


def token(**overrides: object) -> str:
    args: dict[str, object] = {
        "secret": SECRET,
        "subject": "alice",
        "roles": ["operator"],
        "ttl": 600,
        "issuer": ISS,
        "audience": AUD,
        "now": NOW,
    }
    args.update(overrides)
    return create_token(**args)  # type: ignore[arg-type]


def test_valid_token_gives_subject_and_roles() -> None:
    principal = verifier().verify(token(roles=["operator", "reader"]))
    assert principal.subject == "alice"
    assert principal.roles == frozenset({"operator", "reader"})
    assert principal.method == "jwt"


def test_token_expires_at_exp() -> None:
    tok = token(ttl=60)
    assert verifier(NOW + 59).verify(tok).subject == "alice"
    with pytest.raises(TokenExpired):
        verifier(NOW + 60).verify(tok)


def test_leeway_tolerates_small_clock_skew() -> None:
    tok = token(ttl=60)
    lenient = JwtVerifier(SECRET, ISS, AUD, leeway_secs=10, clock=lambda: NOW + 65)
    assert lenient.verify(tok).subject == "alice"


def test_not_before_uses_the_injected_clock() -> None:
    raw = jwt.encode(
        {"sub": "bob", "iss": ISS, "aud": AUD, "exp": int(NOW) + 600, "nbf": int(NOW) + 100},
        SECRET,
        algorithm="HS256",
    )
    with pytest.raises(TokenNotYetValid):
        verifier().verify(raw)
    assert verifier(NOW + 100).verify(raw).subject == "bob"


def test_non_numeric_exp_is_malformed() -> None:
    raw = jwt.encode({"sub": "b", "iss": ISS, "aud": AUD}, SECRET, algorithm="HS256")
    forged = jwt.encode(
        {"sub": "b", "iss": ISS, "aud": AUD, "exp": "tomorrow"}, SECRET, algorithm="HS256"
    )
    with pytest.raises(MalformedToken, match="exp"):
        verifier().verify(raw)
    with pytest.raises(MalformedToken):
        verifier().verify(forged)


def test_bad_signature() -> None:
    with pytest.raises(BadSignature):
        verifier().verify(token(secret=b"another secret entirely, 32 bytes"))


def test_wrong_audience_and_issuer() -> None:
    with pytest.raises(WrongAudience):
        verifier().verify(token(audience="someone-else"))
    with pytest.raises(WrongIssuer):
        verifier().verify(token(issuer="someone-else"))


def test_missing_roles_claim_means_no_roles() -> None:
    raw = jwt.encode(
        {"sub": "bob", "iss": ISS, "aud": AUD, "exp": int(NOW) + 60}, SECRET, algorithm="HS256"
    )
    assert verifier().verify(raw).roles == frozenset()


def test_roles_claim_of_wrong_type_is_malformed() -> None:
    raw = jwt.encode(
        {"sub": "bob", "roles": "admin", "iss": ISS, "aud": AUD, "exp": int(NOW) + 60},
        SECRET,
        algorithm="HS256",
    )
    with pytest.raises(MalformedToken, match="roles"):
        verifier().verify(raw)


@pytest.mark.parametrize("missing", ["exp", "iss", "aud", "sub"])
def test_required_claims(missing: str) -> None:
    claims = {"sub": "bob", "iss": ISS, "aud": AUD, "exp": int(NOW) + 60}
    del claims[missing]
    raw = jwt.encode(claims, SECRET, algorithm="HS256")
    with pytest.raises(MalformedToken, match=missing):
        verifier().verify(raw)


def test_other_algorithms_are_refused() -> None:
    claims = {"sub": "bob", "iss": ISS, "aud": AUD, "exp": int(NOW) + 60}
    unsigned = jwt.encode(claims, "", algorithm="none")
    with pytest.raises(MalformedToken):
        verifier().verify(unsigned)
    hs512 = jwt.encode(claims, SECRET * 2, algorithm="HS512")
    with pytest.raises(MalformedToken, match="HS256"):
        verifier().verify(hs512)


@pytest.mark.parametrize("garbage", ["abc", "a.b.c", "....", "eyJhbGciOiJIUzI1NiJ9.e30"])
def test_garbage_is_malformed(garbage: str) -> None:
    with pytest.raises(MalformedToken):
        verifier().verify(garbage)


def test_missing_token() -> None:
    with pytest.raises(MissingCredentials):
        verifier().verify(None)
    with pytest.raises(MissingCredentials):
        verifier().verify_header("  ")


def test_bearer_header() -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer   abc ") == "abc"
    with pytest.raises(MalformedToken):
        bearer_token("Basic dXNlcjpwYXNz")
    with pytest.raises(MalformedToken):
        bearer_token("Bearer")
    assert verifier().verify_header(f"Bearer {token()}").subject == "alice"


def test_every_auth_error_is_401_and_reveals_no_secret() -> None:
    cases: list[Callable[[], object]] = [
        lambda: verifier().verify(token(secret=b"x" * 32)),
        lambda: verifier(NOW + 10_000).verify(token()),
        lambda: verifier().verify(token(audience="x")),
        lambda: verifier().verify("junk"),
        lambda: verifier().verify(None),
    ]
    for case in cases:
        with pytest.raises(AuthError) as info:
            case()
        assert info.value.http_status == 401
        assert SECRET.decode() not in info.value.message


def test_secret_file_strips_one_trailing_newline(tmp_path: Path) -> None:
    unix = tmp_path / "unix.key"
    unix.write_bytes(SECRET + b"\n")
    dos = tmp_path / "dos.key"
    dos.write_bytes(SECRET + b"\r\n")
    bare = tmp_path / "bare.key"
    bare.write_bytes(SECRET)
    assert load_jwt_secret(unix) == load_jwt_secret(dos) == load_jwt_secret(bare) == SECRET
    two = tmp_path / "two.key"
    two.write_bytes(SECRET + b"\n\n")
    assert load_jwt_secret(two) == SECRET + b"\n"
    verifier_from_file = JwtVerifier.from_file(unix, ISS, AUD, clock=lambda: NOW)
    assert verifier_from_file.verify(token()).subject == "alice"


def test_secret_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigIOError, match="not found"):
        load_jwt_secret(tmp_path / "absent")
    empty = tmp_path / "empty.key"
    empty.write_bytes(b"\n")
    with pytest.raises(ConfigError, match="empty") as info:
        load_jwt_secret(empty)
    assert info.value.errors[0].path == "security.api.jwt_secret_file"


def test_create_token_refuses_non_positive_ttl() -> None:
    with pytest.raises(ValueError):
        token(ttl=0)


# -- the verified-token memory ---------------------------------------------------------


def _counting_decode(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = jwt.decode

    def decode(token: str, *args: object, **kwargs: object) -> object:
        calls.append(token)
        return real(token, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(jwt, "decode", decode)
    return calls


def test_a_repeated_token_is_not_decoded_again(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _counting_decode(monkeypatch)
    check = verifier()
    tok = token(roles=["operator", "reader"])
    first = check.verify(tok)
    again = check.verify(f"  {tok} ")
    assert again == first
    assert calls == [tok]


def test_a_remembered_token_still_expires() -> None:
    now = [NOW]
    check = JwtVerifier(SECRET, ISS, AUD, clock=lambda: now[0])
    tok = token(ttl=60)
    assert check.verify(tok).subject == "alice"
    now[0] = NOW + 60
    with pytest.raises(TokenExpired):
        check.verify(tok)
    now[0] = NOW + 30  # forgotten once expired: decoded (and accepted) afresh
    assert check.verify(tok).subject == "alice"


def test_a_remembered_token_is_checked_for_nbf_on_every_use() -> None:
    now = [NOW + 100]
    check = JwtVerifier(SECRET, ISS, AUD, clock=lambda: now[0])
    tok = jwt.encode({"sub": "alice", "iss": ISS, "aud": AUD, "exp": NOW + 600,
                      "nbf": NOW + 50}, SECRET, algorithm="HS256")
    assert check.verify(tok).subject == "alice"
    now[0] = NOW  # the clock stepped back before nbf
    with pytest.raises(TokenNotYetValid):
        check.verify(tok)


def test_refused_tokens_are_not_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _counting_decode(monkeypatch)
    check = verifier()
    forged = token(secret=b"another-secret-another-secret-xx")
    for _ in range(2):
        with pytest.raises(BadSignature):
            check.verify(forged)
    assert calls == [forged, forged]


def test_a_verifier_for_another_secret_does_not_share_the_memory() -> None:
    tok = token()
    assert verifier().verify(tok).subject == "alice"
    with pytest.raises(BadSignature):
        JwtVerifier(b"another-secret-another-secret-xx", ISS, AUD, clock=lambda: NOW).verify(tok)


def test_the_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from butterfly_config.node.security import jwt_auth

    monkeypatch.setattr(jwt_auth, "VERIFIED_TOKENS_KEPT", 3)
    calls = _counting_decode(monkeypatch)
    check = verifier()
    tokens = [token(subject=f"user-{i}") for i in range(4)]
    for tok in tokens:
        check.verify(tok)
    check.verify(tokens[3])  # the newest is kept
    check.verify(tokens[0])  # the oldest was dropped for it: decoded again
    assert calls == [*tokens, tokens[0]]
