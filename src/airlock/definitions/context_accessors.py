"""``var`` and ``conn`` in templates and the task context: Variables and Connections by name.

``{{ var.value.region }}`` reads the Variable ``region``; ``{{ var.json.settings.size }}`` reads
``settings`` as JSON; ``{{ conn.warehouse.host }}`` reads a Connection's field. Each lookup goes
through :class:`~airlock.definitions.variable.Variable` and
:class:`~airlock.definitions.connection.Connection`: the environment first, then the supervisor.
"""

from __future__ import annotations

from typing import Any

from airlock.definitions.connection import Connection
from airlock.definitions.variable import NOTSET, Variable
from airlock.exceptions import ConnectionNotFoundError, VariableNotFoundError


class VariableAccessor:
    """Variables as attributes: ``var.value.KEY`` (text) or ``var.json.KEY`` (parsed JSON).

    Args:
        deserialize_json: parse each Variable as JSON.
    """

    def __init__(self, *, deserialize_json: bool) -> None:
        self._deserialize_json = deserialize_json

    def __repr__(self) -> str:
        return f"<VariableAccessor {'json' if self._deserialize_json else 'value'}>"

    def __getattr__(self, key: str) -> Any:
        """Return the Variable ``key``.

        Raises:
            VariableNotFoundError: no such Variable.
        """
        if key.startswith("__"):
            raise AttributeError(key)
        return Variable.get(key, deserialize_json=self._deserialize_json)

    def get(self, key: str, default: Any = NOTSET) -> Any:
        """Return the Variable ``key``, or ``default`` when it does not exist."""
        try:
            return Variable.get(key, deserialize_json=self._deserialize_json)
        except VariableNotFoundError:
            if default is NOTSET:
                raise
            return default


class ConnectionAccessor:
    """Connections as attributes: ``conn.CONN_ID`` is the Connection ``CONN_ID``."""

    def __repr__(self) -> str:
        return "<ConnectionAccessor>"

    def __getattr__(self, conn_id: str) -> Connection:
        """Return the Connection ``conn_id``.

        Raises:
            ConnectionNotFoundError: no such Connection.
        """
        if conn_id.startswith("__"):
            raise AttributeError(conn_id)
        return Connection.get(conn_id)

    def get(self, conn_id: str, default_conn: Any = None) -> Any:
        """Return the Connection ``conn_id``, or ``default_conn`` when it is not defined."""
        try:
            return Connection.get(conn_id)
        except ConnectionNotFoundError:
            return default_conn


def variables_accessor() -> dict[str, VariableAccessor]:
    """Return the ``var`` entry of the context: ``{"value": ..., "json": ...}``."""
    return {
        "value": VariableAccessor(deserialize_json=False),
        "json": VariableAccessor(deserialize_json=True),
    }
