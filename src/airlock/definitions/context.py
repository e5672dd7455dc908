"""The task context: what ``execute(context)`` receives, and ``get_current_context()``.

The runner builds the context (``airlock.execution.context``); this module only declares its
shape, so authoring code can type against it without importing the runner.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Protocol, TypedDict

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping, MutableMapping, Sequence
    from datetime import datetime

    from airlock.api.models import DagRunInfo
    from airlock.definitions.baseoperator import BaseOperator
    from airlock.definitions.dag import DAG


class TaskInstanceProtocol(Protocol):
    """What task code can do with ``context["ti"]``: identify itself and exchange XComs."""

    id: str
    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    try_number: int
    max_tries: int

    def xcom_pull(
        self,
        task_ids: str | Iterable[str] | None = None,
        dag_id: str | None = None,
        key: str = "return_value",
        include_prior_dates: bool = False,
        *,
        map_indexes: int | Iterable[int] | None = None,
        default: Any = None,
        run_id: str | None = None,
    ) -> Any:
        """Read XComs of other task instances (a single value or a list, as Airflow does)."""
        ...

    def xcom_push(self, key: str, value: Any) -> None:
        """Store an XCom for this task instance."""
        ...

    def xcom_sequence(self, task_id: str, key: str = "return_value") -> Sequence[Any]:
        """Return a mapped task's values under ``key``, in map index order, read lazily."""
        ...


class Context(TypedDict, total=False):
    """The keys a running task finds in its context."""

    dag: DAG
    task: BaseOperator
    ti: TaskInstanceProtocol
    task_instance: TaskInstanceProtocol
    run_id: str
    dag_run: DagRunInfo
    logical_date: datetime | None
    data_interval_start: datetime | None
    data_interval_end: datetime | None
    ds: str
    ds_nodash: str
    ts: str
    ts_nodash: str
    ts_nodash_with_tz: str
    params: MutableMapping[str, Any]
    try_number: int
    map_index: int
    task_instance_key_str: str
    conf: dict[str, Any]
    macros: Any
    var: Any
    conn: Any
    exception: BaseException | None
    map_index_template: str | None
    inlets: list[Any]
    outlets: list[Any]
    triggering_asset_events: Mapping[str, Any]
    prev_data_interval_start_success: datetime | None
    prev_data_interval_end_success: datetime | None
    prev_start_date_success: datetime | None
    prev_end_date_success: datetime | None
    templates_dict: dict[str, Any] | None
    reason: str


_current_context: ContextVar[Context | None] = ContextVar("airlock_current_context", default=None)


def get_current_context() -> Context:
    """Return the context of the task running now.

    Raises:
        RuntimeError: no task is running in this process (called at DAG-parse time, say).
    """
    context = _current_context.get()
    if context is None:
        raise RuntimeError(
            "get_current_context() was called outside a running task: call it from inside "
            "execute() or a @task function, not at the top level of a DAG file"
        )
    return context


@contextmanager
def set_current_context(context: Context) -> Iterator[Context]:
    """Make ``context`` the current one while the block runs (used by the runner)."""
    token = _current_context.set(context)
    try:
        yield context
    finally:
        _current_context.reset(token)
