"""The parts of the task context beyond the task instance: dates, lazy keys, ``AIRFLOW_CTX_*``.

:class:`LazyContext` is the dict task code receives. Keys whose value needs a request to the
supervisor (the ``prev_*_success`` dates) are fetched on first access, so a task that never
reads them costs no round trip. ``in``, ``get`` and iteration see them as present.
"""

from __future__ import annotations

from collections.abc import ItemsView, KeysView, ValuesView
from typing import TYPE_CHECKING, Any, Final

from airlock.execution.protocol import GetPrevSuccessfulDagRun, PrevSuccessfulDagRunResult

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from datetime import datetime

    from airlock.execution.comms import SupervisorChannel

PREV_SUCCESS_KEYS: Final = {
    "prev_data_interval_start_success": "data_interval_start",
    "prev_data_interval_end_success": "data_interval_end",
    "prev_start_date_success": "start_date",
    "prev_end_date_success": "end_date",
}
"""Context keys of the DAG's latest successful earlier run, and the run's field each reads."""

ENV_VAR_PREFIXES: Final = ("AIRFLOW_CTX_", "AIRLOCK_CTX_")


class LazyContext(dict[str, Any]):
    """A dict whose lazy entries are computed the first time they are read.

    Args:
        values: the entries known now.
        lazy: a function per lazy key, called once (on first read) for its value.
    """

    def __init__(self, values: dict[str, Any], lazy: dict[str, Callable[[], Any]]) -> None:
        super().__init__(values)
        self._lazy = {key: load for key, load in lazy.items() if key not in values}

    def __missing__(self, key: str) -> Any:
        load = self._lazy.pop(key, None)
        if load is None:
            raise KeyError(key)
        value = load()
        self[key] = value
        return value

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or key in self._lazy

    def __iter__(self) -> Iterator[str]:
        yield from list(dict.keys(self))
        yield from [key for key in list(self._lazy) if not dict.__contains__(self, key)]

    def __len__(self) -> int:
        return dict.__len__(self) + len(self._lazy)

    def __copy__(self) -> LazyContext:
        return self.copy()

    def keys(self) -> KeysView[str]:  # type: ignore[override]
        """The keys, lazy ones included (without computing them)."""
        return KeysView(self)

    def items(self) -> ItemsView[str, Any]:  # type: ignore[override]
        """The entries; reading them computes every lazy one."""
        return ItemsView(self)

    def values(self) -> ValuesView[Any]:  # type: ignore[override]
        """The values; reading them computes every lazy one."""
        return ValuesView(self)

    def get(self, key: str, default: Any = None) -> Any:
        """Return the value of ``key`` (computed if lazy), or ``default``."""
        return self[key] if key in self else default  # noqa: SIM401 -- self.get is this method

    def copy(self) -> LazyContext:
        """Return a shallow copy whose lazy entries are still uncomputed."""
        return LazyContext(dict(dict.items(self)), dict(self._lazy))


def date_keys(date: datetime | None) -> dict[str, str]:
    """Return ``ds``, ``ds_nodash``, ``ts``, ``ts_nodash``, ``ts_nodash_with_tz`` of a date."""
    if date is None:
        return {}
    return {
        "ds": date.strftime("%Y-%m-%d"),
        "ds_nodash": date.strftime("%Y%m%d"),
        "ts": date.isoformat(),
        "ts_nodash": date.strftime("%Y%m%dT%H%M%S"),
        "ts_nodash_with_tz": date.isoformat().replace("-", "").replace(":", ""),
    }


def previous_success_loaders(channel: SupervisorChannel) -> dict[str, Callable[[], Any]]:
    """Return loaders of the ``prev_*_success`` keys, sharing one request to the supervisor."""
    fetched: list[PrevSuccessfulDagRunResult] = []

    def fetch() -> PrevSuccessfulDagRunResult:
        if not fetched:
            fetched.append(channel.call(GetPrevSuccessfulDagRun(), PrevSuccessfulDagRunResult))
        return fetched[0]

    def loader(field: str) -> Callable[[], Any]:
        return lambda: getattr(fetch(), field)

    return {key: loader(field) for key, field in PREV_SUCCESS_KEYS.items()}


def context_env_vars(context: dict[str, Any]) -> dict[str, str]:
    """Return the ``AIRFLOW_CTX_*`` (and ``AIRLOCK_CTX_*``) variables Airflow sets for a task.

    ``DAG_OWNER``, ``DAG_ID``, ``TASK_ID``, ``LOGICAL_DATE``, ``TRY_NUMBER``, ``DAG_RUN_ID``
    and, when the task has one, ``DAG_EMAIL``.
    """
    task = context["task"]
    ti = context["ti"]
    logical_date = context.get("logical_date")
    values = {
        "DAG_OWNER": task.owner,
        "DAG_ID": ti.dag_id,
        "TASK_ID": ti.task_id,
        "LOGICAL_DATE": logical_date.isoformat() if logical_date else "",
        "TRY_NUMBER": str(ti.try_number),
        "DAG_RUN_ID": ti.run_id,
    }
    email = task.email
    if email:
        values["DAG_EMAIL"] = email if isinstance(email, str) else ",".join(email)
    return {prefix + name: value for prefix in ENV_VAR_PREFIXES for name, value in values.items()}
