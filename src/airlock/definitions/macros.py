"""The ``macros`` templates and tasks see: date helpers plus a few standard modules.

In a template: ``{{ macros.ds_add(ds, 7) }}``, ``{{ macros.datetime.now() }}``,
``{{ macros.uuid.uuid4() }}``. In a task: ``context["macros"].ds_format(...)``. The names
follow Airflow's ``macros`` module.
"""

from __future__ import annotations

import json
import random as _random
import time
import uuid
from datetime import date, datetime, timedelta

__all__ = [
    "date",
    "datetime",
    "ds_add",
    "ds_format",
    "json",
    "random",
    "time",
    "timedelta",
    "uuid",
]

random = _random.random
"""A random float in [0, 1), as ``macros.random()``."""

_DS_FORMAT = "%Y-%m-%d"


def ds_add(ds: str, days: int) -> str:
    """Add (or subtract) ``days`` to a ``YYYY-MM-DD`` date string.

    Example: ``ds_add("2026-01-05", -5)`` is ``"2025-12-31"``.
    """
    if not days:
        return str(ds)
    day = datetime.strptime(str(ds), _DS_FORMAT).date() + timedelta(days=days)  # noqa: DTZ007 -- a date string has no zone
    return day.isoformat()


def ds_format(ds: str, input_format: str, output_format: str) -> str:
    """Read ``ds`` with ``input_format`` and write it with ``output_format``.

    Example: ``ds_format("2026-01-05", "%Y-%m-%d", "%m-%d-%y")`` is ``"01-05-26"``.
    """
    return datetime.strptime(str(ds), input_format).strftime(output_format)  # noqa: DTZ007 -- a date string has no zone
