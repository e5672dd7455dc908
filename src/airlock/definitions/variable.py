"""``Variable``: key/value settings a task reads, from the environment or the Execution API.

Lookups try the environment first (``AIRLOCK_VAR_<KEY>``, then ``AIRFLOW_VAR_<KEY>`` so existing
deployments keep working), then ask the supervisor, which asks the API.
"""

from __future__ import annotations

import json
import os
from typing import Any, Final

from airlock.exceptions import VariableNotFoundError

_ENV_PREFIXES: Final = ("AIRLOCK_VAR_", "AIRFLOW_VAR_")


class _NotSet:
    def __repr__(self) -> str:
        return "NOTSET"


NOTSET: Final = _NotSet()


def _from_env(key: str) -> str | None:
    for prefix in _ENV_PREFIXES:
        value = os.environ.get(prefix + key.upper())
        if value is not None:
            return value
    return None


class Variable:
    """Access to Variables from inside a running task."""

    @staticmethod
    def get(key: str, default: Any = NOTSET, *, deserialize_json: bool = False) -> Any:
        """Return the Variable ``key``.

        Args:
            key: the Variable's key.
            default: returned when the Variable does not exist; without it, that is an error.
            deserialize_json: parse the value as JSON.

        Raises:
            VariableNotFoundError: no such Variable and no default.
        """
        value = _from_env(key)
        if value is None:
            value = _fetch(key)
        if value is None:
            if default is NOTSET:
                raise VariableNotFoundError(key)
            return default
        return json.loads(value) if deserialize_json else value

    @staticmethod
    def set(
        key: str, value: Any, description: str | None = None, *, serialize_json: bool = False
    ) -> None:
        """Create or replace the Variable ``key`` (JSON-encoded when ``serialize_json``)."""
        from airlock.execution.comms import get_channel  # noqa: PLC0415 -- runner-only path
        from airlock.execution.protocol import OKResponse, PutVariable  # noqa: PLC0415

        text = json.dumps(value) if serialize_json else str(value)
        get_channel().call(PutVariable(key=key, value=text, description=description), OKResponse)

    @staticmethod
    def delete(key: str) -> None:
        """Delete the Variable ``key``; deleting one that does not exist is not an error."""
        from airlock.execution.comms import get_channel  # noqa: PLC0415 -- runner-only path
        from airlock.execution.protocol import DeleteVariable, OKResponse  # noqa: PLC0415

        get_channel().call(DeleteVariable(key=key), OKResponse)


def _fetch(key: str) -> str | None:
    from airlock.execution.comms import get_channel  # noqa: PLC0415 -- runner-only path
    from airlock.execution.protocol import ErrorKind, GetVariable, VariableResult  # noqa: PLC0415

    result = get_channel().call_optional(
        GetVariable(key=key), VariableResult, ErrorKind.VARIABLE_NOT_FOUND
    )
    return None if result is None else result.value
