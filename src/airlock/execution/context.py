"""What task code sees while it runs: the task instance (``ti``) and the context dict."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple, cast

from airlock.definitions import macros
from airlock.definitions.context_accessors import ConnectionAccessor, variables_accessor
from airlock.definitions.params import ParamsDict, as_params_dict
from airlock.execution import xcom_values
from airlock.execution.context_values import LazyContext, date_keys, previous_success_loaders
from airlock.execution.lazy_sequence import LazyXComSequence
from airlock.execution.protocol import GetXCom, OKResponse, SetXCom, XComResult

if TYPE_CHECKING:
    from collections.abc import Iterable

    from airlock.api.models import DagRunInfo, TaskInstanceKey, TIRunContext
    from airlock.definitions.baseoperator import BaseOperator
    from airlock.definitions.context import Context
    from airlock.definitions.dag import DAG
    from airlock.execution.comms import SupervisorChannel


_UNMAPPED: Any = object()


class _XComQuery(NamedTuple):
    """The parts of an ``xcom_pull`` shared by each task id and map index it reads."""

    key: str
    dag_id: str | None
    run_id: str | None
    include_prior_dates: bool
    default: Any


class RuntimeTaskInstance:
    """The running task instance: who it is, and its way to read and write XComs."""

    def __init__(
        self,
        key: TaskInstanceKey,
        run_context: TIRunContext,
        *,
        task: BaseOperator,
        channel: SupervisorChannel,
        xcom_max_bytes: int,
    ) -> None:
        self.id = key.id
        self.dag_id = key.dag_id
        self.run_id = key.run_id
        self.task_id = key.task_id
        self.map_index = key.map_index
        self.try_number = run_context.try_number
        self.max_tries = run_context.max_tries
        self.dag_run: DagRunInfo = run_context.dag_run
        self.task = task
        self._channel = channel
        self._xcom_max_bytes = xcom_max_bytes

    def __repr__(self) -> str:
        index = f"[{self.map_index}]" if self.map_index >= 0 else ""
        where = f"{self.dag_id}.{self.task_id}{index} {self.run_id}"
        return f"<TaskInstance {where} try {self.try_number}>"

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
        """Read XComs, by default those pushed in this DAG run (Airflow's argument order).

        Args:
            task_ids: one task id (returns one value), several (returns a list in that order), or
                ``None`` for this task itself.
            dag_id: the DAG (this task's DAG by default; the API refuses other DAGs).
            key: the XCom key.
            include_prior_dates: when this run has no such XCom, take the latest one of the
                DAG's earlier runs (by logical date).
            map_indexes: the mapped index(es) to read; ``None`` reads the unmapped value.
            default: returned for an XCom that does not exist.
            run_id: the DAG run (this run by default).
        """
        if task_ids is None:
            task_ids = self.task_id
        where = _XComQuery(key, dag_id, run_id, include_prior_dates, default)
        if isinstance(task_ids, str):
            return self._pull_one(task_ids, map_indexes, where)
        return [self._pull_one(t, map_indexes, where) for t in task_ids]

    def _pull_one(
        self, task_id: str, map_indexes: int | Iterable[int] | None, where: _XComQuery
    ) -> Any:
        if map_indexes is None and where.dag_id in (None, self.dag_id) and where.run_id is None:
            mapped = self._mapped_pull(task_id, where)
            if mapped is not _UNMAPPED:
                return mapped
        if map_indexes is None or isinstance(map_indexes, int):
            return self._get(task_id, -1 if map_indexes is None else map_indexes, where)
        return [self._get(task_id, index, where) for index in map_indexes]

    def _get(self, task_id: str, map_index: int, where: _XComQuery) -> Any:
        default = where.default
        request = GetXCom(
            task_id=task_id,
            key=where.key,
            map_index=map_index,
            dag_id=where.dag_id,
            run_id=where.run_id,
            include_prior_dates=where.include_prior_dates,
        )
        result = self._channel.call(request, XComResult)
        if result.value is None:
            return default
        return xcom_values.deserialize(result.value)

    def _mapped_pull(self, task_id: str, where: _XComQuery) -> Any:
        """Pull from a mapped task without map indexes, as Airflow 3 does.

        Inside the same mapped task group, that is the value of this task instance's own map
        index; otherwise every mapped value, in map index order (``default`` if there is none).
        Returns ``_UNMAPPED`` when ``task_id`` is not a mapped task.
        """
        dag = self.task.dag
        if dag is None or not dag.has_task(task_id) or not dag.get_task(task_id).needs_expansion:
            return _UNMAPPED
        group = dag.get_task(task_id).get_closest_mapped_task_group()
        if group is not None and self.task.get_closest_mapped_task_group() is group:
            return self._get(task_id, self.map_index, where)
        values = self.xcom_sequence(task_id, where.key).values()
        return values or where.default

    def xcom_sequence(self, task_id: str, key: str = "return_value") -> LazyXComSequence:
        """Return the values of the mapped task ``task_id`` as a lazily fetched sequence."""
        return LazyXComSequence(self._channel, task_id, key)

    def xcom_push(self, key: str, value: Any) -> None:
        """Store ``value`` as this task instance's XCom ``key``.

        Raises:
            XComError: the value cannot be stored as JSON, or is over the size limit.
        """
        data = xcom_values.serialize(value, max_bytes=self._xcom_max_bytes)
        self._channel.call(SetXCom(key=key, value=data), OKResponse)


def build_context(ti: RuntimeTaskInstance, task: BaseOperator, dag: DAG) -> Context:
    """Build the context dict ``execute(context)`` receives: every key Airflow 3 has that applies.

    The ``prev_*_success`` keys are fetched from the supervisor on first read.
    """
    run = ti.dag_run
    values: dict[str, Any] = {
        "dag": dag,
        "task": task,
        "ti": ti,
        "task_instance": ti,
        "run_id": ti.run_id,
        "dag_run": run,
        "logical_date": run.logical_date,
        "data_interval_start": run.data_interval_start,
        "data_interval_end": run.data_interval_end,
        "params": resolved_params(task, run.conf),
        "conf": run.conf,
        "try_number": ti.try_number,
        "map_index": ti.map_index,
        "map_index_template": task.map_index_template,
        "task_instance_key_str": _key_str(ti, run),
        "inlets": task.inlets,
        "outlets": task.outlets,
        "triggering_asset_events": {},
        "macros": macros,
        "var": variables_accessor(),
        "conn": ConnectionAccessor(),
        **date_keys(run.logical_date),
    }
    lazy = previous_success_loaders(ti._channel)  # noqa: SLF001 -- the runner's own channel
    return cast("Context", LazyContext(values, lazy))


def resolved_params(task: BaseOperator, conf: dict[str, Any]) -> ParamsDict:
    """Return the task's params (its DAG's, then its own) with the run's conf over them.

    Values are not validated here: the trusted side validated them when the run was created.
    """
    params = as_params_dict(task.params)
    for name, value in conf.items():
        params[name] = value
    return params


def _key_str(ti: RuntimeTaskInstance, run: DagRunInfo) -> str:
    """``dag__task__YYYYMMDD`` (the logical date) as Airflow builds it; the run id without one."""
    when = run.logical_date.strftime("%Y%m%d") if run.logical_date else run.run_id
    return f"{ti.dag_id}__{ti.task_id}__{when}"
