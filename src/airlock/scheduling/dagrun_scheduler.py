"""One scheduling pass over a DAG run: settle what can be settled, queue what is ready.

A pass walks the DAG's tasks in topological order, so a skip or an upstream failure flows all
the way down in one pass. It expands mapped tasks whose input can be counted
(``scheduling/expansion.py``), applies each waiting task instance's trigger rule (with
Airflow's setup/teardown rules, ``scheduling/task_graph.py``), brings up_for_retry task
instances back once their retry delay has passed, queues the ready ones (their next try begins:
``try_number`` goes up by one), and finishes the run when every task instance is done.

A task may have several task instances (one per map index). A task instance counts every task
instance of its upstream tasks, except inside a mapped task group, where map index ``i`` of a
task waits only for map index ``i`` of the group's other tasks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import select

from airlock.db.models import DagRun, TaskInstance
from airlock.scheduling.admission import admit
from airlock.scheduling.expansion import (
    DEFAULT_MAX_MAP_LENGTH,
    CannotExpand,
    Counter,
    RunTaskInstances,
    expand,
    load_task_instances,
    too_long_reason,
)
from airlock.scheduling.retries import next_retry_delay
from airlock.scheduling.task_graph import TaskGraph, task_graph
from airlock.scheduling.trigger_rules import Decision, UpstreamStates, decide, setup_constraint
from airlock.states import (
    FAILED_TI_STATES,
    FINISHED_RUN_STATES,
    FINISHED_TI_STATES,
    DagRunState,
)
from airlock.states import TaskInstanceState as TIState

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime, timedelta

    from sqlalchemy.orm import Session

    from airlock.api.models import TaskInstanceKey
    from airlock.definitions.serialized import ExpandSpec, SerializedDag, SerializedTask


@dataclass(frozen=True)
class QueuedTry:
    """A task instance try the pass queued: hand it to an executor."""

    key: TaskInstanceKey
    execution_timeout: float | None
    queue: str


@dataclass
class SchedulingPass:
    """What one pass did and what it found."""

    run_state: str
    queued: list[QueuedTry] = field(default_factory=list)
    next_retry_at: datetime | None = None
    """When the earliest up_for_retry task instance becomes due, if any."""


def retry_delay(task: SerializedTask, try_number: int, seed: str = "") -> timedelta:
    """How long to wait after try ``try_number`` failed (see :mod:`airlock.scheduling.retries`)."""
    return next_retry_delay(
        task.retry_delay,
        try_number,
        exponential_backoff=task.retry_exponential_backoff,
        max_retry_delay=task.max_retry_delay,
        seed=seed or task.task_id,
    )


def schedule_dag_run(
    session: Session,
    dag: SerializedDag,
    run_id: str,
    *,
    now: datetime,
    limit: int | None = None,
    max_map_length: int = DEFAULT_MAX_MAP_LENGTH,
) -> SchedulingPass:
    """Run one scheduling pass over the run ``run_id`` of ``dag``; queue at most ``limit``.

    A mapped task whose input holds more than ``max_map_length`` items fails.
    """
    run = session.scalars(
        select(DagRun).where(DagRun.dag_id == dag.dag_id, DagRun.run_id == run_id).with_for_update()
    ).one()
    if run.state in FINISHED_RUN_STATES:
        return SchedulingPass(run_state=run.state)
    tis = load_task_instances(session, dag.dag_id, run_id)
    graph = task_graph(dag)
    result = SchedulingPass(run_state=run.state)
    judge = _RunJudge(session, graph, tis, now, max_map_length)
    for task in dag.tasks:
        judge.advance(task, result)
    candidates = [ti for task in dag.tasks for ti in tis.of(task.task_id)]
    result.queued = _queue_ready(session, dag, candidates, now, limit)
    _update_run_state(run, graph, tis, now)
    result.run_state = run.state
    return result


class _RunJudge:
    """Moves one run's waiting task instances on: expansion, trigger rules, retries."""

    def __init__(
        self,
        session: Session,
        graph: TaskGraph,
        tis: RunTaskInstances,
        now: datetime,
        max_map_length: int,
    ) -> None:
        self.session = session
        self.graph = graph
        self.tis = tis
        self.now = now
        self.max_map_length = max_map_length
        self.counter = Counter(session, graph.tasks, tis)

    def advance(self, task: SerializedTask, result: SchedulingPass) -> None:
        """Settle what can be settled of ``task``'s task instances."""
        tis = self.tis.of(task.task_id)
        placeholder = len(tis) == 1 and tis[0].map_index < 0 and tis[0].state is None
        if task.expand is not None and placeholder:
            tis = self._expand(task, task.expand, tis[0])
        for ti in tis:
            if ti.state is None:
                _apply(ti, self.decide(task, ti), self.now)
            elif ti.state == TIState.UP_FOR_RETRY:
                self._retry_when_due(task, ti, result)

    def _expand(
        self, task: SerializedTask, spec: ExpandSpec, placeholder: TaskInstance
    ) -> list[TaskInstance]:
        """Expand a mapped task once its input can be counted; return the task instances to judge.

        The placeholder itself is settled here while it cannot expand: it waits, follows its
        trigger rule to skipped/upstream_failed, is skipped for an empty input, or fails when the
        input can never be counted or is too long.
        """
        try:
            count = self.counter.count(spec)
        except CannotExpand as exc:
            self._settle(task, placeholder, failure=str(exc))
            return []
        if count is None:
            self._settle(task, placeholder)
        elif count > self.max_map_length:
            self._settle(
                task, placeholder, failure=too_long_reason(task.task_id, count, self.max_map_length)
            )
        elif count == 0:
            self._settle(task, placeholder, empty=True)
        else:
            expanded = expand(self.session, placeholder, count, self.now)
            self.tis.by_task[task.task_id] = expanded
            return expanded
        return []

    def _settle(
        self,
        task: SerializedTask,
        ti: TaskInstance,
        *,
        failure: str | None = None,
        empty: bool = False,
    ) -> None:
        decision = self.decide(task, ti)
        if decision is not Decision.RUN:
            _apply(ti, decision, self.now)
        elif failure is not None:
            _set_state(ti, TIState.FAILED, self.now)
            ti.failure_reason = failure
            ti.end_date = self.now
        elif empty:  # Airflow skips a task mapped over nothing
            _apply(ti, Decision.SKIP, self.now)

    def decide(self, task: SerializedTask, ti: TaskInstance) -> Decision:
        """Apply the task's trigger rule (and the setup/teardown rules) to ``ti``'s upstreams."""
        decision = decide(task.trigger_rule, self._upstream_states(task, ti))
        if task.is_teardown:
            scope_done = all(
                up.state in FINISHED_TI_STATES
                for up_id in self.graph.teardown_scope(task.task_id)
                for up in self._relevant(up_id, task, ti)
            )
            return Decision.WAIT if decision is Decision.RUN and not scope_done else decision
        setups = self.graph.indirect_setups(task.task_id)
        if not setups:
            return decision
        states = [up.state for up_id in setups for up in self._relevant(up_id, task, ti)]
        constraint = setup_constraint(states)
        if constraint is Decision.UPSTREAM_FAILED or constraint is Decision.SKIP:
            return constraint
        return (
            Decision.WAIT if constraint is Decision.WAIT and decision is Decision.RUN else decision
        )

    def _upstream_states(self, task: SerializedTask, ti: TaskInstance) -> UpstreamStates:
        states: list[str | None] = []
        setup_states: list[str | None] = []
        for up_id in task.upstream_task_ids:
            found = [up.state for up in self._relevant(up_id, task, ti)]
            states.extend(found)
            if self.graph.tasks[up_id].is_setup:
                setup_states.extend(found)
        return UpstreamStates.count(states, setup_states)

    def _relevant(self, up_id: str, task: SerializedTask, ti: TaskInstance) -> list[TaskInstance]:
        """The task instances of ``up_id`` that ``ti`` depends on (see the module docstring)."""
        upstream = self.tis.of(up_id)
        group = task.mapped_group_id
        if ti.map_index < 0 or group is None or self.graph.tasks[up_id].mapped_group_id != group:
            return upstream
        return [up for up in upstream if up.map_index == ti.map_index] or upstream

    def _retry_when_due(
        self, task: SerializedTask, ti: TaskInstance, result: SchedulingPass
    ) -> None:
        seed = f"{ti.dag_id}#{ti.task_id}#{ti.run_id}#{ti.map_index}"
        due = (ti.end_date or self.now) + retry_delay(task, ti.try_number, seed)
        if due <= self.now:
            _set_state(ti, TIState.SCHEDULED, self.now)
        elif result.next_retry_at is None or due < result.next_retry_at:
            result.next_retry_at = due


def _apply(ti: TaskInstance, decision: Decision, now: datetime) -> None:
    if decision is Decision.RUN:
        _set_state(ti, TIState.SCHEDULED, now)
    elif decision is Decision.SKIP:
        _set_state(ti, TIState.SKIPPED, now)
        ti.end_date = now
    elif decision is Decision.UPSTREAM_FAILED:
        _set_state(ti, TIState.UPSTREAM_FAILED, now)
        ti.end_date = now


def _set_state(ti: TaskInstance, state: TIState, now: datetime) -> None:
    ti.state = state
    ti.updated_at = now


def _queue_ready(
    session: Session,
    dag: SerializedDag,
    tis: Sequence[TaskInstance],
    now: datetime,
    limit: int | None,
) -> list[QueuedTry]:
    """Queue the scheduled task instances that pools and concurrency limits admit.

    ``tis`` is every task instance of the run (each mapped index is one), in the DAG's order.
    """
    scheduled = [ti for ti in tis if ti.state == TIState.SCHEDULED]
    admitted = admit(session, dag, scheduled, limit=limit)
    return [_queue(ti, dag.task(ti.task_id), now) for ti in admitted]


def _queue(ti: TaskInstance, task: SerializedTask, now: datetime) -> QueuedTry:
    _set_state(ti, TIState.QUEUED, now)
    ti.try_number += 1
    ti.queued_at = now
    ti.end_date = None
    ti.claimed_by = None
    ti.claimed_at = None
    return QueuedTry(key=ti.key, execution_timeout=task.execution_timeout, queue=task.queue)


def _update_run_state(run: DagRun, graph: TaskGraph, tis: RunTaskInstances, now: datetime) -> None:
    """Start the run, or finish it once every task instance is done.

    The run fails when a task instance of an effective leaf failed (teardowns do not count
    unless ``on_failure_fail_dagrun``, see ``task_graph``); otherwise it succeeds.
    """
    every = tis.all()
    if run.state == DagRunState.QUEUED and any(ti.state is not None for ti in every):
        run.state = DagRunState.RUNNING
        run.start_date = run.start_date or now
    if not all(ti.state in FINISHED_TI_STATES for ti in every):
        return
    leaves = [ti for task_id in graph.effective_leaves for ti in tis.of(task_id)]
    failed = any(ti.state in FAILED_TI_STATES for ti in leaves)
    run.state = DagRunState.FAILED if failed else DagRunState.SUCCESS
    run.end_date = now
