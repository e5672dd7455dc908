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
from urllib.parse import SplitResult, parse_qsl, quote, unquote, urlencode, urlsplit

from airlock.exceptions import ConnectionNotFoundError, TaskRuntimeError

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
        """Render the connection as an Airflow connection URI that :meth:`from_uri` reads back.

        ``type://login:password@host:port/schema?extra``, each part url-encoded; a type's
        ``_`` becomes ``-``; an ``extra`` that is not a flat dict of strings travels whole as
        the ``__extra__`` query parameter.
        """
        uri = f"{self.conn_type.lower().replace('_', '-')}://" if self.conn_type else "//"
        host, protocol = _split_protocol(self.host, self.conn_type)
        if protocol:
            uri += f"{protocol}://"
        auth = ""
        if self.login is not None:
            auth += quote(self.login, safe="")
        if self.password is not None:
            auth += ":" + quote(self.password, safe="")
        if auth:
            uri += auth + "@"
        location = quote(host, safe="") if host else ""
        if self.port:
            location += f"@:{self.port}" if not location and not auth else f":{self.port}"
        if self.schema:
            location += f"/{quote(self.schema, safe='')}"
        return uri + location + self._extra_query()

    def _extra_query(self) -> str:
        if not self.extra:
            return ""
        lead = "?" if self.schema else "/?"
        extra = self.extra_dejson
        query = (
            urlencode(extra) if extra and all(isinstance(v, str) for v in extra.values()) else ""
        )
        if query and dict(parse_qsl(query, keep_blank_values=True)) == extra:
            return lead + query
        return lead + urlencode({_EXTRA_JSON_PARAM: self.extra})

    @classmethod
    def from_uri(cls, conn_id: str, uri: str) -> Connection:
        """Parse an Airflow connection URI (``type://login:password@host:port/schema?extra``).

        ``postgresql`` reads as ``postgres`` and ``-`` in the type as ``_``; a host may carry a
        protocol of its own (``http://https://example.com``); query parameters become ``extra``
        (JSON), unless ``__extra__`` holds it whole.

        Raises:
            ValueError: the text is not a connection URI.
        """
        if uri.count("://") > 2 or "://" not in uri:  # noqa: PLR2004 -- type, then host protocol
            raise ValueError(f"connection {conn_id!r}: {uri!r} is not a connection URI")
        scheme = urlsplit(uri).scheme
        double = uri.count("://") == 2  # noqa: PLR2004 -- a host with a protocol of its own
        rest = uri.replace(f"{scheme}://", "" if double else "//", 1)
        parts = urlsplit(rest)
        protocol = parts.scheme if double else None
        host = _hostname(parts)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        extra = query.pop(_EXTRA_JSON_PARAM, None) or (json.dumps(query) if query else None)
        return cls(
            conn_id=conn_id,
            conn_type=_normalize_type(scheme),
            host=f"{protocol}://{host}" if protocol and host else (host or None),
            schema=unquote(parts.path[1:]) or None,
            login=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            port=parts.port,
            extra=extra,
        )

    def get_password(self) -> str | None:
        """Return the password."""
        return self.password

    def get_extra(self) -> str | None:
        """Return ``extra`` as stored (a JSON string)."""
        return self.extra

    def get_hook(self, *, hook_params: dict[str, Any] | None = None) -> Any:
        """Hooks come from provider packages, which airlock does not ship.

        Raises:
            TaskRuntimeError: always; use the connection's fields with the client library.
        """
        del hook_params
        message = (
            f"connection {self.conn_id!r} (type {self.conn_type!r}): airlock has no hooks; "
            "hooks come from Airflow provider packages. Use the connection's fields (host, "
            "login, password, port, schema, extra_dejson) with the client library directly"
        )
        raise TaskRuntimeError(message)

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a dict, ``extra`` parsed when it is JSON (Airflow's export)."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "conn_id"}
        if self.extra:
            data["extra"] = self.extra_dejson or self.extra
        return data

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


def _normalize_type(scheme: str) -> str:
    """Airflow's reading of a URI scheme: ``postgresql`` is ``postgres``, ``-`` is ``_``."""
    return "postgres" if scheme == "postgresql" else scheme.replace("-", "_")


def _hostname(parts: SplitResult) -> str:
    """The host of a URI as Airflow reads it: lower-cased and url-decoded.

    A host holding an encoded ``/`` (a socket path, say) is taken from the raw netloc.
    """
    hostname = unquote(parts.hostname or "")
    if "/" in hostname:
        hostname = unquote(parts.netloc.rsplit("@", 1)[-1].split(":", 1)[0])
    return hostname


def _split_protocol(host: str | None, conn_type: str) -> tuple[str | None, str | None]:
    """Split a host that carries its own protocol (``https://...``), unless it is the type's."""
    if not host or "://" not in host:
        return host, None
    protocol, rest = host.split("://", 1)
    return (host, None) if protocol == conn_type else (rest, protocol)


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
