"""Secrets masking: the supervisor replaces secrets with ``***`` before text leaves a try.

The supervisor learns the secrets of a try without trusting the runner to declare them: it
serves them itself (connection passwords and secret-looking ``extra`` fields, Variables whose
key looks sensitive), reads those given to the runner in its environment
(``AIRLOCK_CONN_*``/``AIRLOCK_VAR_*``), and adds those task code registers with
``airlock.mask_secret``. Log lines, rendered template fields and failure reasons pass through
:meth:`SecretsMasker.redact` before they are written or sent to the API.

Each secret is masked in these spellings (the ones a secret takes when code prints it):

- as written, and each line of a multi-line secret (a private key printed line by line);
- escaped as in JSON (``json.dumps``, with and without ``ensure_ascii``) and as in ``repr`` /
  ``ascii`` (a secret inside a printed dict or list);
- percent-encoded as in a URL (``quote``, ``quote_plus``: a password inside a connection URI);
- base64 of its UTF-8 bytes (standard and URL-safe alphabets, with or without ``=`` padding).

Not covered: a secret cut into pieces other than its own lines, base64 of a longer text that
contains it (``user:password`` in a Basic auth header), hashes, hex, or any other transformation.
Anything shaped like a JWT is masked whatever its origin. Values shorter than
:data:`MIN_SECRET_LENGTH` are not masked: hiding ``"abc"`` everywhere would garble the log.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote, quote_plus

from airlock.execution.literal_trie import literal_pattern

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

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
_CONN_ENV_PREFIXES: Final = ("AIRLOCK_CONN_", "AIRFLOW_CONN_")
_VAR_ENV_PREFIXES: Final = ("AIRLOCK_VAR_", "AIRFLOW_VAR_")


def is_sensitive_name(name: str) -> bool:
    """Whether a Variable key or field name marks its value as a secret."""
    normalised = name.lower().replace("-", "_")
    return any(part in normalised for part in SENSITIVE_NAME_PARTS)


def spellings(secret: str) -> set[str]:
    """The forms of ``secret`` that are masked: see the module's docstring for the list."""
    forms = {
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret)[1:-1],
        ascii(secret)[1:-1],
        quote(secret, safe=""),
        quote_plus(secret),
    }
    forms.update(_base64_forms(secret.encode()))
    forms.update(secret.splitlines())
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


def _base64_forms(raw: bytes) -> set[str]:
    forms = set()
    for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
        text = encoded.decode()
        forms.update({text, text.rstrip("=")})
    return forms


def sensitive_values(data: Any, name: str = "") -> list[str]:
    """The strings inside ``data`` (JSON-like) stored under a key that looks sensitive.

    ``{"auth": {"user": "u", "key": "k"}}`` gives ``["u", "k"]``: below a sensitive key,
    everything is secret.
    """
    if name and is_sensitive_name(name):
        return all_strings(data)
    if isinstance(data, dict):
        return [found for key, value in data.items() for found in sensitive_values(value, key)]
    if isinstance(data, list | tuple):
        return [found for item in data for found in sensitive_values(item, name)]
    return []


def all_strings(data: Any) -> list[str]:
    """Every string value inside ``data`` (dict values, list items, or ``data`` itself)."""
    if isinstance(data, str):
        return [data]
    if isinstance(data, dict):
        return [found for value in data.values() for found in all_strings(value)]
    if isinstance(data, list | tuple | set | frozenset):
        return [found for item in data for found in all_strings(item)]
    return []


def environment_secrets(env: Mapping[str, str]) -> list[str]:
    """The secrets a runner finds in its environment: what its supervisor must mask.

    Connections given as ``AIRLOCK_CONN_*``/``AIRFLOW_CONN_*`` (URI or JSON) give their password
    and the sensitive values of their extra; Variables given as ``AIRLOCK_VAR_*``/
    ``AIRFLOW_VAR_*`` give their value when their key looks sensitive.
    """
    found: list[str] = []
    for name, value in env.items():
        if name.startswith(_CONN_ENV_PREFIXES):
            found += _connection_secrets(name.split("_CONN_", 1)[1].lower(), value.strip())
        elif name.startswith(_VAR_ENV_PREFIXES) and is_sensitive_name(name.split("_VAR_", 1)[1]):
            found.append(value)
    return found


def _connection_secrets(conn_id: str, text: str) -> list[str]:
    """A connection's password and sensitive extra values; none if it does not parse.

    A malformed connection is skipped here: the runner reports it when the task asks for it.
    """
    from airlock.definitions.connection import Connection  # noqa: PLC0415 -- env secrets only

    try:
        if text.startswith("{"):
            conn = Connection.from_json(conn_id, text)
        else:
            conn = Connection.from_uri(conn_id, text)
    except Exception:  # noqa: BLE001 -- any parse failure: nothing to mask
        return []
    return ([conn.password] if conn.password else []) + sensitive_values(conn.extra_dejson)


class SecretsMasker:
    """The secrets of one try, and a redactor built from every spelling of them."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._forms: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def add(self, value: str | None) -> None:
        """Mask ``value`` (in each of its spellings) from now on."""
        self.add_all([value] if value else [])

    def add_all(self, values: Iterable[str]) -> None:
        """Mask each of ``values`` from now on, rebuilding the pattern once."""
        new = {value for value in values if len(value) >= MIN_SECRET_LENGTH} - self._secrets
        if not new:
            return
        self._secrets |= new
        for value in new:
            self._forms |= spellings(value)
        self._pattern = literal_pattern(self._forms)

    def add_connection(self, password: str | None, extra: str | None) -> None:
        """Mask a connection's password and the values under sensitive keys of its extra."""
        values = [password] if password else []
        if extra:
            with contextlib.suppress(ValueError):  # an extra that is not JSON has no keys
                values += sensitive_values(json.loads(extra))
        self.add_all(values)

    def redact(self, text: str) -> str:
        """Return ``text`` with every known secret, and anything shaped like a JWT, masked."""
        if self._pattern is not None:
            text = self._pattern.sub(MASK, text)
        if "eyJ" in text:
            text = _JWT.sub(MASK, text)
        return text

    def redact_data(self, data: Any) -> Any:
        """Return JSON-like ``data`` with :meth:`redact` applied to every string inside it."""
        if isinstance(data, str):
            return self.redact(data)
        if isinstance(data, dict):
            return {key: self.redact_data(value) for key, value in data.items()}
        if isinstance(data, list):
            return [self.redact_data(item) for item in data]
        return data
