"""Rendered template fields on their way to the database: made JSON-safe, masked, then cut.

The runner turns each rendered template field into plain JSON data (``to_json_safe``). The
supervisor, which knows the secrets it served, masks them and then cuts each field whose text
is longer than ``max_length`` characters, as Airflow does with ``max_templated_field_length``
(``for_storage``): masking first means a cut can never leave part of a secret behind, and a
secret never reaches the ``rendered_task_instance_fields`` table.

Only the standard library is imported here: the runner imports this module.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any, Final

from airlock.execution.masking import MASK, is_sensitive_name

if TYPE_CHECKING:
    from airlock.execution.masking import SecretsMasker

TRUNCATED_PREFIX: Final = "Truncated (max_templated_field_length): "
_SCALARS: Final = (str, int, float, bool, type(None))


def to_json_safe(value: Any) -> Any:
    """Return ``value`` as JSON data: containers walked, dates and other objects as text."""
    return _walk(value)


def for_storage(fields: dict[str, Any], masker: SecretsMasker, max_length: int) -> dict[str, Any]:
    """Return the fields masked, each one longer than ``max_length`` as text cut to a string."""
    stored: dict[str, Any] = {}
    for name, value in fields.items():
        masked = mask(value, masker, name)
        text = masked if isinstance(masked, str) else json.dumps(masked)
        stored[name] = truncate(text, max_length) if len(text) > max_length else masked
    return stored


def truncate(text: str, max_length: int) -> str:
    """Return ``text``, or its beginning with a note that it was cut, within ``max_length``."""
    if len(text) <= max_length:
        return text
    room = max(0, max_length - len(TRUNCATED_PREFIX) - 3)
    return f"{TRUNCATED_PREFIX}{text[:room]}..."


def _walk(value: Any) -> Any:
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, dict):
        return {str(key): _walk(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_walk(item) for item in value]
    if isinstance(value, set | frozenset):
        return sorted((_walk(item) for item in value), key=repr)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value)


def mask(value: Any, masker: SecretsMasker, name: str = "") -> Any:
    """Return ``value`` with every known secret masked, and values under secret-like keys hidden.

    Args:
        value: rendered fields as JSON data.
        masker: the secrets served to this try.
        name: the key ``value`` is stored under, if any.
    """
    if name and is_sensitive_name(name) and value not in (None, ""):
        return MASK
    if isinstance(value, str):
        return masker.redact(value)
    if isinstance(value, dict):
        return {key: mask(item, masker, key) for key, item in value.items()}
    if isinstance(value, list):
        return [mask(item, masker) for item in value]
    return value
