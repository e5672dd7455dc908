"""``Connection``: how a task reaches an external system, from the environment or the API.

Lookups try ``AIRLOCK_CONN_<ID>`` then ``AIRFLOW_CONN_<ID>`` (a URI such as
``postgres://user:pass@host:5432/db?sslmode=require``, or a JSON object of the fields), then ask
the supervisor, which asks the API.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, fields
from typing import Any, Final
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from airlock.exceptions import ConnectionNotFoundError

_ENV_PREFIXES: Final = ("AIRLOCK_CONN_", "AIRFLOW_CONN_")
_EXTRA_JSON_PARAM: Final = "__extra__"


@dataclass(kw_only=True)
class Connection:
    """A connection's fields; ``extra`` is a JSON string of provider-specific options."""

    conn_id: str
    conn_type: str
    description: str | None = None
    host: str | None = None
    schema: str | None = None
    login: str | None = None
    password: str | None = None
    port: int | None = None
    extra: str | None = None

    @property
    def extra_dejson(self) -> dict[str, Any]:
        """``extra`` parsed as a JSON object (empty when unset or not an object)."""
        if not self.extra:
            return {}
        try:
            value = json.loads(self.extra)
        except json.JSONDecodeError:
            return {}
        return value if isinstance(value, dict) else {}

    def get_uri(self) -> str:
        """Render the connection as a URI that ``from_uri`` reads back."""
        scheme = self.conn_type.replace("_", "-")
        auth = ""
        if self.login is not None or self.password is not None:
            auth = quote(self.login or "", safe="")
            if self.password is not None:
                auth += ":" + quote(self.password, safe="")
            auth += "@"
        host = quote(self.host or "", safe="")
        port = f":{self.port}" if self.port is not None else ""
        path = "/" + quote(self.schema, safe="") if self.schema else ""
        query = _extra_query(self.extra_dejson)
        return f"{scheme}://{auth}{host}{port}{path}{query}"

    @classmethod
    def from_uri(cls, conn_id: str, uri: str) -> Connection:
        """Parse a connection URI (``type://login:password@host:port/schema?extra=...``)."""
        parts = urlsplit(uri)
        if not parts.scheme:
            raise ValueError(f"connection {conn_id!r}: {uri!r} is not a URI (no scheme)")
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        extra = query.pop(_EXTRA_JSON_PARAM, None) or (json.dumps(query) if query else None)
        return cls(
            conn_id=conn_id,
            conn_type=parts.scheme.replace("-", "_"),
            host=unquote(parts.hostname) if parts.hostname else None,
            schema=unquote(parts.path.lstrip("/")) or None,
            login=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            port=parts.port,
            extra=extra,
        )

    @classmethod
    def from_json(cls, conn_id: str, text: str) -> Connection:
        """Parse a connection given as a JSON object of its fields."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise TypeError(f"connection {conn_id!r}: the JSON must be an object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"connection {conn_id!r}: unknown fields {unknown}")
        if isinstance(data.get("extra"), dict):
            data["extra"] = json.dumps(data["extra"])
        data.setdefault("conn_type", "generic")
        return cls(**{"conn_id": conn_id, **data})

    @classmethod
    def get(cls, conn_id: str) -> Connection:
        """Return the connection ``conn_id``.

        Raises:
            ConnectionNotFoundError: no such connection is defined.
        """
        found = _from_env(conn_id)
        if found is None:
            found = _fetch(conn_id)
        if found is None:
            raise ConnectionNotFoundError(conn_id)
        return found


def _extra_query(extra: dict[str, Any]) -> str:
    if not extra:
        return ""
    if all(isinstance(v, str) for v in extra.values()):
        return "?" + urlencode(extra)
    return "?" + urlencode({_EXTRA_JSON_PARAM: json.dumps(extra)})


def _from_env(conn_id: str) -> Connection | None:
    for prefix in _ENV_PREFIXES:
        raw = os.environ.get(prefix + conn_id.upper())
        if raw:
            text = raw.strip()
            if text.startswith("{"):
                return Connection.from_json(conn_id, text)
            return Connection.from_uri(conn_id, text)
    return None


def _fetch(conn_id: str) -> Connection | None:
    from airlock.execution.comms import get_channel  # noqa: PLC0415 -- runner-only path
    from airlock.execution.protocol import (  # noqa: PLC0415
        ConnectionResult,
        ErrorKind,
        GetConnection,
    )

    result = get_channel().call_optional(
        GetConnection(conn_id=conn_id), ConnectionResult, ErrorKind.CONNECTION_NOT_FOUND
    )
    if result is None:
        return None
    return Connection(
        conn_id=result.conn_id,
        conn_type=result.conn_type,
        host=result.host,
        schema=result.schema,
        login=result.login,
        password=result.password,
        port=result.port,
        extra=result.extra,
    )
