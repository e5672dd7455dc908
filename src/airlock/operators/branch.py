"""Branching: run some downstream tasks and skip the others.

:class:`SkipMixin` marks tasks of the running DAG run skipped: the runner sends
``SkipDownstreamTasks`` to its supervisor, which asks the Execution API (the API only skips task
instances of the same run that have not started). The scheduler's trigger rules then carry the
skips further down. :class:`BaseBranchOperator` is the base of every branching operator:
subclasses implement :meth:`~BaseBranchOperator.choose_branch`; :class:`BranchPythonOperator`
(``@task.branch``) asks a Python callable.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from airlock.definitions.baseoperator import BaseOperator
from airlock.definitions.decorators import DecoratedPythonOperator, TaskDecorator
from airlock.exceptions import AirlockError
from airlock.operators.python import PythonOperator

if TYPE_CHECKING:
    from airlock.definitions.context import Context, TaskInstanceProtocol
    from airlock.definitions.dag import DAG

log = logging.getLogger(__name__)


class BranchError(AirlockError):
    """A branch named a task or task group that the DAG does not have."""


def downstream_closure(task: BaseOperator) -> list[BaseOperator]:
    """Return every task downstream of ``task``, directly or not (each once, nearest first)."""
    seen: dict[str, BaseOperator] = {}
    frontier = list(task.downstream_list)
    while frontier:
        current = frontier.pop(0)
        if current.task_id not in seen:
            seen[current.task_id] = current
            frontier.extend(current.downstream_list)
    return list(seen.values())


class SkipMixin:
    """Mark tasks of the running DAG run skipped (for operators that decide what runs next)."""

    def skip(self, ti: TaskInstanceProtocol, tasks: Iterable[BaseOperator | str]) -> bool:
        """Mark ``tasks`` (tasks or task ids) of this run skipped, if they have not started.

        Returns whether there was anything to skip.
        """
        ids = sorted({task if isinstance(task, str) else task.task_id for task in tasks})
        if not ids:
            return False
        log.info("Skipping tasks %s", ids)
        _send_skip(ids, ti.map_index)
        return True

    def skip_all_except(self, ti: TaskInstanceProtocol, branch_task_ids: object) -> bool:
        """Skip each direct downstream task of this one that is not in ``branch_task_ids``.

        A downstream task that is also downstream of a followed branch is kept (the join of an
        empty branch). Task group ids stand for the group's root tasks.

        Raises:
            BranchError: a branch id is neither a task nor a task group of the DAG.
        """
        task = self
        if not isinstance(task, BaseOperator) or task.dag is None:
            raise BranchError("skip_all_except needs a task that belongs to a DAG")
        followed = expand_branches(task.dag, as_id_set(branch_task_ids))
        for branch_id in list(followed):
            followed.update(t.task_id for t in downstream_closure(task.dag.get_task(branch_id)))
        skipped = [t for t in task.downstream_list if t.task_id not in followed]
        log.info("Following branches %s", sorted(followed & task.downstream_task_ids))
        return self.skip(ti, skipped)


def as_id_set(branch_task_ids: object) -> set[str]:
    """Return what a branch callable returned as a set of ids (None means none).

    Raises:
        BranchError: the value is neither a str, None, nor an iterable of str.
    """
    if branch_task_ids is None:
        return set()
    if isinstance(branch_task_ids, str):
        return {branch_task_ids}
    items = list(branch_task_ids) if isinstance(branch_task_ids, Iterable) else [branch_task_ids]
    if not isinstance(branch_task_ids, Iterable) or not all(isinstance(i, str) for i in items):
        raise BranchError(
            f"a branch must return a task id, a list of task ids, or None; got {branch_task_ids!r}"
        )
    return {str(item) for item in items}


def expand_branches(dag: DAG, ids: set[str]) -> set[str]:
    """Return ``ids`` with each task group id replaced by the ids of the group's root tasks.

    Raises:
        BranchError: an id names neither a task nor a task group of ``dag``.
    """
    groups = _task_groups(dag)
    expanded: set[str] = set()
    for branch_id in ids:
        if branch_id in groups:
            expanded.update(t.task_id for t in groups[branch_id].roots)
        elif dag.has_task(branch_id):
            expanded.add(branch_id)
        else:
            raise BranchError(
                f"branch {branch_id!r} is not a task or task group of DAG {dag.dag_id!r}; "
                f"its tasks are {sorted(dag.task_ids)}"
            )
    return expanded


def _task_groups(dag: DAG) -> dict[str, Any]:
    """Return the DAG's task groups by group id (found through their tasks)."""
    groups: dict[str, Any] = {}
    for task in dag.tasks:
        group = getattr(task, "task_group", None)
        while group is not None and getattr(group, "group_id", None):
            groups[group.group_id] = group
            group = getattr(group, "parent_group", None)
    return groups


def _send_skip(task_ids: list[str], map_index: int) -> None:
    from airlock.execution.comms import get_channel  # noqa: PLC0415 -- runner-only path
    from airlock.execution.protocol import OKResponse, SkipDownstreamTasks  # noqa: PLC0415

    tasks: list[str | tuple[str, int]] = (
        list(task_ids) if map_index < 0 else [(task_id, map_index) for task_id in task_ids]
    )
    get_channel().call(SkipDownstreamTasks(tasks=tasks), OKResponse)


class BranchMixIn(SkipMixin):
    """Follow the branches a branching operator chose, skipping the other direct downstream."""

    def do_branch(self, context: Context, branches_to_execute: Any) -> Any:
        """Skip the direct downstream tasks not in ``branches_to_execute``.

        As in Airflow 3, a branch that skipped tasks ends without a return value (no XCom);
        one that skipped nothing returns ``branches_to_execute``.
        """
        log.info("Branch into %s", branches_to_execute)
        if self.skip_all_except(context["ti"], branches_to_execute):
            return None
        return branches_to_execute


class BaseBranchOperator(BaseOperator, BranchMixIn):
    """Base of branching operators: :meth:`choose_branch` says which tasks run next.

    The direct downstream tasks not chosen are skipped; when nothing was skipped, the chosen ids
    are the task's XCom.
    """

    inherits_from_skipmixin = True

    def choose_branch(self, context: Context) -> str | Iterable[str] | None:  # noqa: ARG002 -- subclasses use it
        """Return the task id(s) (or task group ids) to follow; None follows none.

        Raises:
            BranchError: the subclass did not implement it.
        """
        raise BranchError(f"{type(self).__name__} must implement choose_branch(self, context)")

    def execute(self, context: Context) -> Any:
        """Choose the branch and skip the rest."""
        return self.do_branch(context, self.choose_branch(context))


class BranchPythonOperator(PythonOperator, BranchMixIn):
    """Run a callable that returns the task id(s) to follow; skip the other direct downstream.

    Args:
        python_callable: returns a task id, a list of task ids (task group ids too), or None.
        **kwargs: any argument of :class:`~airlock.operators.python.PythonOperator`.
    """

    inherits_from_skipmixin = True

    def execute(self, context: Context) -> Any:
        """Call the callable and follow the branches it returns."""
        return self.do_branch(context, super().execute(context))


class DecoratedBranchOperator(DecoratedPythonOperator, BranchMixIn):
    """The operator behind a ``@task.branch`` function."""

    custom_operator_name = "@task.branch"
    inherits_from_skipmixin = True

    def execute(self, context: Context) -> Any:
        """Call the function and follow the branches it returns."""
        return self.do_branch(context, super().execute(context))


class BranchTaskDecorator(TaskDecorator):
    """A function decorated with ``@task.branch``."""

    operator_class = DecoratedBranchOperator
