"""What task code sees while it runs: the task instance (``ti``) and the context dict."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airlock.execution import xcom_values
from airlock.execution.protocol import GetXCom, OKResponse, SetXCom, XComResult

if TYPE_CHECKING:
    from collections.abc import Iterable

    from airlock.api.models import DagRunInfo, TaskInstanceKey, TIRunContext
    from airlock.definitions.baseoperator import BaseOperator
    from airlock.definitions.context import Context
    from airlock.definitions.dag import DAG
    from airlock.execution.comms import SupervisorChannel


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
        key: str = "return_value",
        *,
        dag_id: str | None = None,
        map_indexes: int | Iterable[int] | None = None,
        default: Any = None,
    ) -> Any:
        """Read XComs pushed in this DAG run.

        Args:
            task_ids: one task id (returns one value), several (returns a list in that order), or
                ``None`` for this task itself.
            key: the XCom key.
            dag_id: another DAG's id (defaults to this task's DAG).
            map_indexes: the mapped index(es) to read; ``None`` reads the unmapped value.
            default: returned for an XCom that does not exist.
        """
        if task_ids is None:
            task_ids = self.task_id
        if isinstance(task_ids, str):
            return self._pull_one(task_ids, key, dag_id, map_indexes, default)
        return [self._pull_one(t, key, dag_id, map_indexes, default) for t in task_ids]

    def _pull_one(
        self,
        task_id: str,
        key: str,
        dag_id: str | None,
        map_indexes: int | Iterable[int] | None,
        default: Any,
    ) -> Any:
        if map_indexes is None or isinstance(map_indexes, int):
            return self._get(
                task_id, key, dag_id, -1 if map_indexes is None else map_indexes, default
            )
        return [self._get(task_id, key, dag_id, index, default) for index in map_indexes]

    def _get(self, task_id: str, key: str, dag_id: str | None, map_index: int, default: Any) -> Any:
        request = GetXCom(task_id=task_id, key=key, map_index=map_index, dag_id=dag_id)
        result = self._channel.call(request, XComResult)
        if result.value is None:
            return default
        return xcom_values.deserialize(result.value)

    def xcom_push(self, key: str, value: Any) -> None:
        """Store ``value`` as this task instance's XCom ``key``.

        Raises:
            XComError: the value cannot be stored as JSON, or is over the size limit.
        """
        data = xcom_values.serialize(value, max_bytes=self._xcom_max_bytes)
        self._channel.call(SetXCom(key=key, value=data), OKResponse)


def build_context(ti: RuntimeTaskInstance, task: BaseOperator, dag: DAG) -> Context:
    """Build the context dict ``execute(context)`` receives."""
    run = ti.dag_run
    context: Context = {
        "dag": dag,
        "task": task,
        "ti": ti,
        "task_instance": ti,
        "run_id": ti.run_id,
        "dag_run": run,
        "logical_date": run.logical_date,
        "data_interval_start": run.data_interval_start,
        "data_interval_end": run.data_interval_end,
        "params": _params(dag, task, run.conf),
        "conf": run.conf,
        "try_number": ti.try_number,
        "map_index": ti.map_index,
        "task_instance_key_str": f"{ti.dag_id}__{ti.task_id}__{run.run_id}",
    }
    if run.logical_date is not None:
        date = run.logical_date
        context["ds"] = date.strftime("%Y-%m-%d")
        context["ds_nodash"] = date.strftime("%Y%m%d")
        context["ts"] = date.isoformat()
        context["ts_nodash"] = date.strftime("%Y%m%dT%H%M%S")
        context["ts_nodash_with_tz"] = date.isoformat().replace("-", "").replace(":", "")
    return context


def _params(dag: DAG, task: BaseOperator, conf: dict[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {**(dag.params or {}), **(task.params or {})}
    params.update(conf)
    return params
