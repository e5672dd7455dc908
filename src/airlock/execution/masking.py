"""Secrets masking: the supervisor replaces secrets with ``***`` before a log line is written.

The supervisor hands every secret to the runner itself (connection passwords, sensitive
Variables), so it knows what to hide without trusting the runner to say so. Each secret is
masked as written and in the forms it takes when printed as JSON or ``repr``. Tokens that look
like JWTs are masked whatever their origin.
"""

from __future__ import annotations

import json
import re
from typing import Final

MASK: Final = "***"
MIN_SECRET_LENGTH: Final = 5
"""Shorter values are not masked: masking ``"abc"`` everywhere would garble the log."""

SENSITIVE_NAME_PARTS: Final = (
    "access_token",
    "api_key",
    "apikey",
    "auth",
    "bearer",
    "credential",
    "dsn",
    "passphrase",
    "passwd",
    "password",
    "private_key",
    "secret",
    "token",
)

_JWT: Final = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]*")


def is_sensitive_name(name: str) -> bool:
    """Whether a Variable key or field name marks its value as a secret."""
    normalised = name.lower().replace("-", "_")
    return any(part in normalised for part in SENSITIVE_NAME_PARTS)


class SecretsMasker:
    """The set of secrets of one task instance, and a redactor built from them."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def add(self, value: str | None) -> None:
        """Mask ``value`` (and its JSON and repr forms) from now on."""
        if not value or len(value) < MIN_SECRET_LENGTH or value in self._secrets:
            return
        forms = {value, json.dumps(value)[1:-1], repr(value)[1:-1]}
        forms.update(line for line in value.splitlines() if len(line) >= MIN_SECRET_LENGTH)
        self._secrets.update(forms)
        alternatives = sorted(self._secrets, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(s) for s in alternatives))

    def redact(self, text: str) -> str:
        """Return ``text`` with every known secret, and anything shaped like a JWT, masked."""
        if self._pattern is not None:
            text = self._pattern.sub(MASK, text)
        if "eyJ" in text:
            text = _JWT.sub(MASK, text)
        return text
