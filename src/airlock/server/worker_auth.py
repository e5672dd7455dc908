"""Worker credentials: what lets a local worker claim queued tries from the Execution API.

A credential is a JWT naming the worker (``sub``), with scope ``worker`` and the audience
``urn:airlock:worker``. It is signed with a key *derived* from the token signing key (HMAC of
the key and a fixed label), so it can never pass as a task token, nor a task token as a
credential. Operators mint one per worker host with ``airlock worker-token`` on a control-plane
host (which has the signing key); the worker host only ever holds its credential file.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
import uuid

import jwt

from airlock.server.auth import TokenExpiredError, TokenInvalidError

WORKER_AUDIENCE = "urn:airlock:worker"
WORKER_SCOPE = "worker"
_LABEL = b"airlock worker credential v1"
_ALGORITHM = "HS512"
_REQUIRED = ["sub", "scope", "aud", "iss", "iat", "exp", "jti"]


class WorkerCredentials:
    """Mints and verifies worker credentials.

    Args:
        signing_key: the token signing key (see :mod:`airlock.server.signing_key`).
        issuer: the ``iss`` claim minted and required.
    """

    def __init__(self, signing_key: bytes, *, issuer: str = "airlock") -> None:
        self._key = hmac.new(signing_key, _LABEL, hashlib.sha512).digest()
        self.issuer = issuer

    def __repr__(self) -> str:
        return "WorkerCredentials()"  # never the key

    def mint(self, worker: str, *, lifetime: float) -> str:
        """Return a credential for the worker named ``worker``, valid ``lifetime`` seconds."""
        now = int(time.time())
        claims = {
            "sub": worker,
            "scope": WORKER_SCOPE,
            "aud": WORKER_AUDIENCE,
            "iss": self.issuer,
            "iat": now,
            "exp": now + math.ceil(lifetime),
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._key, algorithm=_ALGORITHM)

    def verify(self, token: str) -> str:
        """Return the worker name of a valid credential.

        Raises:
            TokenExpiredError: the credential's lifetime is over.
            TokenInvalidError: it is forged, malformed, or not a worker credential.
        """
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[_ALGORITHM],
                audience=WORKER_AUDIENCE,
                issuer=self.issuer,
                options={"require": _REQUIRED},
            )
        except jwt.ExpiredSignatureError:
            raise TokenExpiredError("the worker credential has expired") from None
        except jwt.InvalidTokenError as exc:
            raise TokenInvalidError(f"the worker credential is not valid: {exc}") from None
        if claims["scope"] != WORKER_SCOPE or not isinstance(claims["sub"], str):
            raise TokenInvalidError("the token is not a worker credential")
        return claims["sub"]
