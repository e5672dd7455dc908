"""Per-try JSON Web Tokens: who may act for which task instance, and for how long.

Each token names one try of one task instance (``sub`` = the try's id) and has a scope:

* ``workload``: minted when the try is queued; long-lived; it can only start the try (``/run``).
* ``execution``: returned by ``/run``; short-lived, refreshed while the try runs; it can do
  everything else the try is allowed to do.

Tokens are HMAC-signed with one shared secret. Only the configured algorithm is accepted, so a
token signed with another algorithm, or with ``alg=none``, is refused. Tokens are never logged.

The refusals::

    TokenError               the token was refused
    ├── TokenExpiredError    it was valid once; the caller needs a new one
    └── TokenInvalidError    it is forged, malformed, or meant for another audience or issuer
"""

from __future__ import annotations

import hashlib
import math
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, get_args

import jwt

from airlock.exceptions import AirlockError, ConfigError

Scope = Literal["workload", "execution"]
"""What a token may be used for."""

MIN_SECRET_BYTES = 32
"""No secret is accepted below this length, whatever the algorithm."""

_HMAC_HASHES = {"HS256": "sha256", "HS384": "sha384", "HS512": "sha512"}
_REQUIRED_CLAIMS = ["sub", "scope", "aud", "iss", "iat", "nbf", "exp", "jti"]


class TokenError(AirlockError):
    """A token was refused."""


class TokenExpiredError(TokenError):
    """The token's lifetime is over."""


class TokenInvalidError(TokenError):
    """The token is forged, malformed, signed another way, or meant for someone else."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenClaims:
    """What a verified token says.

    Attributes:
        sub: the id of the task instance try the token acts for.
        scope: ``workload`` (may only start the try) or ``execution``.
        issued_at: when the token was minted (UTC).
        expires_at: when the token stops being accepted (UTC).
        jti: the token's unique id.
    """

    sub: str
    scope: Scope
    issued_at: datetime
    expires_at: datetime
    jti: str


class TokenSigner:
    """Mints and verifies the tokens of task instance tries.

    Args:
        secret: the HMAC key, at least 32 bytes and at least as long as the algorithm's hash
            (64 bytes for HS512, RFC 7518 section 3.2); e.g. ``secrets.token_bytes(64)``.
        execution_lifetime: seconds an execution token is valid.
        workload_lifetime: seconds a workload token is valid.
        algorithm: ``HS256``, ``HS384`` or ``HS512``; the only one :meth:`verify` accepts.
        audience: the ``aud`` claim minted and required.
        issuer: the ``iss`` claim minted and required.
        leeway: seconds of clock skew tolerated on ``exp``, ``nbf`` and ``iat``.

    Raises:
        ConfigError: the secret is too short, the algorithm unknown, or a lifetime not positive.
    """

    def __init__(
        self,
        secret: bytes,
        *,
        execution_lifetime: float = 600,
        workload_lifetime: float = 3600,
        algorithm: str = "HS512",
        audience: str = "urn:airlock:task",
        issuer: str = "airlock",
        leeway: float = 0,
    ) -> None:
        _check_algorithm_and_secret(algorithm, secret)
        _check_lifetimes(execution_lifetime, workload_lifetime, leeway)
        self._secret = secret
        self.execution_lifetime = execution_lifetime
        self.workload_lifetime = workload_lifetime
        self.algorithm = algorithm
        self.audience = audience
        self.issuer = issuer
        self.leeway = leeway

    def __repr__(self) -> str:
        return f"TokenSigner(algorithm={self.algorithm!r}, audience={self.audience!r})"

    def mint(self, ti_id: str, *, scope: Scope) -> str:
        """Return a signed token that lets its holder act for try ``ti_id`` within ``scope``."""
        lifetime = self.execution_lifetime if scope == "execution" else self.workload_lifetime
        now = int(time.time())
        claims = {
            "sub": ti_id,
            "scope": scope,
            "aud": self.audience,
            "iss": self.issuer,
            "iat": now,
            "nbf": now,
            "exp": now + math.ceil(lifetime),
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._secret, algorithm=self.algorithm)

    def verify(self, token: str) -> TokenClaims:
        """Check a token's signature, algorithm, audience, issuer and times; return its claims.

        Raises:
            TokenExpiredError: the token was valid but its lifetime is over.
            TokenInvalidError: anything else is wrong with it.
        """
        try:
            payload = jwt.decode(
                token,
                self._secret,
                algorithms=[self.algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": _REQUIRED_CLAIMS},
            )
        except jwt.ExpiredSignatureError:
            raise TokenExpiredError("the token has expired") from None
        except jwt.InvalidTokenError as exc:
            raise TokenInvalidError(f"the token is not valid: {exc}") from None
        return _claims_from(payload)

    def needs_refresh(self, claims: TokenClaims, now: datetime) -> bool:
        """Whether less than half of the execution lifetime remains on the token at ``now``."""
        return claims.expires_at - now < timedelta(seconds=self.execution_lifetime / 2)


def _check_algorithm_and_secret(algorithm: str, secret: bytes) -> None:
    if algorithm not in _HMAC_HASHES:
        raise ConfigError(
            f"token algorithm {algorithm!r} is not supported: use one of {', '.join(_HMAC_HASHES)}"
        )
    minimum = max(MIN_SECRET_BYTES, hashlib.new(_HMAC_HASHES[algorithm]).digest_size)
    if len(secret) < minimum:
        raise ConfigError(
            f"the token secret is {len(secret)} bytes long; {algorithm} needs at least "
            f"{minimum} random bytes (generate one with secrets.token_bytes({minimum}))"
        )


def _check_lifetimes(execution: float, workload: float, leeway: float) -> None:
    if execution <= 0 or workload <= 0:
        raise ConfigError(
            f"token lifetimes must be positive, got execution_lifetime={execution} "
            f"and workload_lifetime={workload}"
        )
    if leeway < 0:
        raise ConfigError(f"token leeway must not be negative, got {leeway}")


def _claims_from(payload: dict[str, Any]) -> TokenClaims:
    sub, scope, jti = payload["sub"], payload["scope"], payload["jti"]
    if scope not in get_args(Scope):
        raise TokenInvalidError(f"the token's scope {scope!r} is not one of {get_args(Scope)}")
    if not isinstance(sub, str) or not sub or not isinstance(jti, str):
        raise TokenInvalidError("the token's sub and jti claims must be non-empty strings")
    return TokenClaims(
        sub=sub,
        scope=scope,
        issued_at=datetime.fromtimestamp(payload["iat"], UTC),
        expires_at=datetime.fromtimestamp(payload["exp"], UTC),
        jti=jti,
    )
