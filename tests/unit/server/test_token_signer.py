import secrets
import time
from datetime import timedelta

import jwt
import pytest

from airlock.exceptions import ConfigError
from airlock.server.auth import (
    TokenClaims,
    TokenExpiredError,
    TokenInvalidError,
    TokenSigner,
)

SECRET = secrets.token_bytes(64)


def _token(**claims) -> str:
    now = int(time.time())
    payload = {
        "sub": "ti-1",
        "scope": "execution",
        "aud": "urn:airlock:task",
        "iss": "airlock",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": "abc",
        **claims,
    }
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, SECRET, "HS512")


def test_a_minted_token_verifies_to_its_claims():
    """mint() then verify() gives back the task instance id, scope and lifetime."""
    signer = TokenSigner(SECRET, execution_lifetime=600)
    claims = signer.verify(signer.mint("ti-1", scope="execution"))
    assert isinstance(claims, TokenClaims)
    assert (claims.sub, claims.scope) == ("ti-1", "execution")
    assert claims.expires_at - claims.issued_at == timedelta(seconds=600)
    assert len(claims.jti) == 32


def test_workload_tokens_get_the_workload_lifetime():
    """A workload token lives for workload_lifetime, not execution_lifetime."""
    signer = TokenSigner(SECRET, execution_lifetime=60, workload_lifetime=7200)
    claims = signer.verify(signer.mint("ti-1", scope="workload"))
    assert claims.scope == "workload"
    assert claims.expires_at - claims.issued_at == timedelta(seconds=7200)


def test_every_token_has_its_own_id():
    """Two tokens minted for the same task instance differ (fresh jti)."""
    signer = TokenSigner(SECRET)
    first, second = (signer.verify(signer.mint("ti", scope="execution")) for _ in range(2))
    assert first.jti != second.jti


@pytest.mark.parametrize("length", [0, 16, 31])
def test_a_secret_shorter_than_32_bytes_is_refused(length):
    """A short secret is refused when the signer is built, with a clear message."""
    with pytest.raises(ConfigError, match=f"secret is {length} bytes long"):
        TokenSigner(b"x" * length, algorithm="HS256")


def test_a_secret_shorter_than_the_hash_is_refused():
    """HS512 needs a 64-byte secret (RFC 7518), so 32 bytes are refused for it."""
    with pytest.raises(ConfigError, match=r"HS512 needs at least 64 random bytes"):
        TokenSigner(secrets.token_bytes(32))
    TokenSigner(secrets.token_bytes(32), algorithm="HS256")


def test_an_unknown_algorithm_is_refused():
    """Only HMAC algorithms can be configured."""
    with pytest.raises(ConfigError, match="not supported"):
        TokenSigner(SECRET, algorithm="none")


def test_lifetimes_must_be_positive():
    """A zero or negative lifetime is refused at construction."""
    with pytest.raises(ConfigError, match="must be positive"):
        TokenSigner(SECRET, execution_lifetime=0)


def test_an_expired_token_is_reported_as_expired():
    """A token past its exp raises TokenExpiredError, not TokenInvalidError."""
    with pytest.raises(TokenExpiredError):
        TokenSigner(SECRET).verify(_token(exp=int(time.time()) - 1))


def test_leeway_tolerates_a_little_clock_skew():
    """A token expired by less than the leeway is still accepted."""
    token = _token(exp=int(time.time()) - 2)
    assert TokenSigner(SECRET, leeway=30).verify(token).sub == "ti-1"


@pytest.mark.parametrize(
    ("token", "match"),
    [
        (
            jwt.encode({"sub": "ti-1"}, secrets.token_bytes(64), "HS512"),
            "Signature verification failed",
        ),
        (jwt.encode({"sub": "ti-1", "scope": "execution"}, None, "none"), "alg"),
        (_token(aud="urn:someone:else"), "(?i)audience"),
        (_token(iss="mallory"), "issuer"),
        (_token(jti=None), "jti"),
        (_token(scope="admin"), "scope"),
        (jwt.encode({"sub": "ti-1"}, SECRET, "HS256"), "alg"),
        ("not.a.token", "not valid"),
        ("", "not valid"),
    ],
    ids=[
        "wrong-key",
        "alg-none",
        "audience",
        "issuer",
        "no-jti",
        "scope",
        "hs256",
        "junk",
        "empty",
    ],
)
def test_forged_or_foreign_tokens_are_invalid(token, match):
    """Tokens signed with another key or algorithm, or meant for others, are refused."""
    with pytest.raises(TokenInvalidError, match=match):
        TokenSigner(SECRET).verify(token)


def test_refresh_is_needed_once_less_than_half_the_lifetime_remains():
    """needs_refresh turns true just after the middle of the execution lifetime."""
    signer = TokenSigner(SECRET, execution_lifetime=600)
    claims = signer.verify(signer.mint("ti", scope="execution"))
    assert not signer.needs_refresh(claims, claims.issued_at)
    assert not signer.needs_refresh(claims, claims.issued_at + timedelta(seconds=300))
    assert signer.needs_refresh(claims, claims.issued_at + timedelta(seconds=301))


def test_the_signer_never_shows_its_secret():
    """repr() of a signer does not reveal the secret."""
    assert SECRET.hex() not in repr(TokenSigner(SECRET))
    assert repr(SECRET) not in repr(TokenSigner(SECRET))
