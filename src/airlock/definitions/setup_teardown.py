"""Setup and teardown tasks: ``@setup``, ``@teardown``, and ``with setup >> teardown:`` blocks.

A setup task creates a resource (a cluster, a temporary table) and its teardown removes it.
The scheduler gives them Airflow's rules: a teardown runs once everything between it and its
setups is done, whether that work succeeded or failed, provided at least one of its setups
succeeded (trigger rule ``all_done_setup_success``); a teardown's failure does not fail the DAG
run unless ``on_failure_fail_dagrun=True``.

Using a setup or teardown task as a context manager wraps the tasks created in the block: the
setups run before the block's first tasks (those with no upstream task) and the teardowns
after its last ones (those with no downstream task). Blocks nest: an inner block's setups run
after the outer block's setups, and its teardowns before the outer teardowns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self

from airlock.definitions.dependencies import DependencyMixin, Relatives
from airlock.definitions.trigger_rule import TriggerRule
from airlock.exceptions import DagDefinitionError

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

    from airlock.definitions.baseoperator import BaseOperator
    from airlock.definitions.dag import DAG
    from airlock.definitions.decorators import TaskDecorator


class SetupTeardownMixin(DependencyMixin):
    """The setup/teardown role of an operator (``BaseOperator`` inherits it)."""

    is_setup: bool = False
    """Whether the task is a setup task (see :meth:`as_setup`)."""
    is_teardown: bool = False
    """Whether the task is a teardown task (see :meth:`as_teardown`)."""
    on_failure_fail_dagrun: bool = False
    """Whether a failure of this teardown task fails the DAG run."""
    trigger_rule: TriggerRule

    def as_setup(self) -> Self:
        """Mark this task as a setup task (it creates what its teardowns remove); return it."""
        self.is_setup = True
        return self

    def as_teardown(
        self, *, setups: Relatives | None = None, on_failure_fail_dagrun: bool | None = None
    ) -> Self:
        """Mark this task as a teardown task; return it.

        It runs once the tasks between it and its setups are done, if at least one setup
        succeeded (trigger rule ``all_done_setup_success``), and its failure does not fail the
        DAG run unless ``on_failure_fail_dagrun`` is True.

        Args:
            setups: the setup task(s) it tears down after; they are marked as setups and
                made upstream of it.
            on_failure_fail_dagrun: whether a failure of this teardown fails the DAG run.
        """
        self.is_teardown = True
        self.trigger_rule = TriggerRule.ALL_DONE_SETUP_SUCCESS
        if on_failure_fail_dagrun is not None:
            self.on_failure_fail_dagrun = on_failure_fail_dagrun
        if setups is not None:
            for setup_task in [setups] if isinstance(setups, DependencyMixin) else setups:
                setup_task.as_setup()  # type: ignore[attr-defined]
                self.set_upstream(setup_task)
        return self

    def __enter__(self) -> Self:
        enter_scope(self)  # type: ignore[arg-type]
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        exit_scope()


@dataclass
class _Scope:
    """An open ``with`` block on setup/teardown tasks."""

    setups: list[BaseOperator]
    teardowns: list[BaseOperator]
    dag: DAG
    known: frozenset[str]
    """The DAG's task ids when the block opened; the tasks added since are the block's."""


_scopes: list[_Scope] = []


def enter_scope(task: BaseOperator) -> None:
    """Open a setup/teardown block on ``task`` (``BaseOperator.__enter__`` calls this).

    Raises:
        DagDefinitionError: the task is neither a setup nor a teardown, or has no DAG.
    """
    if not (task.is_setup or task.is_teardown):
        raise DagDefinitionError(
            f"task {task.task_id!r} is used as a context manager, but only setup and teardown "
            "tasks can be: mark it with .as_setup() or .as_teardown(), or use @setup/@teardown"
        )
    dag = task.dag
    if dag is None:
        raise DagDefinitionError(f"task {task.task_id!r} must belong to a DAG to open a block")
    if task.is_setup:
        setups, teardowns = [task], _nearest(task, upstream=False, teardown=True)
    else:
        setups, teardowns = _nearest(task, upstream=True, teardown=False), [task]
    _scopes.append(_Scope(setups, teardowns, dag, frozenset(dag.task_dict)))


def exit_scope() -> None:
    """Close the innermost block: wrap its tasks with the block's setups and teardowns."""
    scope = _scopes.pop()
    added = [t for tid, t in scope.dag.task_dict.items() if tid not in scope.known]
    work = [t for t in added if not (t.is_setup or t.is_teardown)]
    if work:
        roots = [t for t in work if not t.upstream_task_ids] or [work[0]]
        leaves = [t for t in work if not t.downstream_task_ids] or [work[-1]]
        for setup_task in scope.setups:
            setup_task.set_downstream(roots)
        for teardown_task in scope.teardowns:
            teardown_task.set_upstream(leaves)
    if _scopes:
        outer = _scopes[-1]
        for setup_task in outer.setups:
            setup_task.set_downstream(scope.setups)
        for teardown_task in outer.teardowns:
            teardown_task.set_upstream(scope.teardowns)


def _nearest(task: BaseOperator, *, upstream: bool, teardown: bool) -> list[BaseOperator]:
    """Return the closest teardowns downstream (or setups upstream) of ``task``.

    The search goes level by level and stops at the first level that has any.
    """
    seen = {task.task_id}
    level = task.upstream_list if upstream else task.downstream_list
    while level:
        found = [t for t in level if (t.is_teardown if teardown else t.is_setup)]
        if found:
            return found
        seen.update(t.task_id for t in level)
        following = [n for t in level for n in (t.upstream_list if upstream else t.downstream_list)]
        level = list({t.task_id: t for t in following if t.task_id not in seen}.values())
    return []


def setup(python_callable: Callable[..., Any] | TaskDecorator) -> TaskDecorator:
    """Decorate a function (or a ``@task``-decorated one) as a setup task.

    Args:
        python_callable: the function, or a function already decorated with ``@task...``.
    """
    decorator = _as_task_decorator(python_callable)
    decorator.is_setup = True
    return decorator


def teardown(
    python_callable: Callable[..., Any] | TaskDecorator | None = None,
    /,
    *,
    on_failure_fail_dagrun: bool = False,
) -> Any:
    """Decorate a function as a teardown task; usable bare or as ``@teardown(...)``.

    Args:
        python_callable: the function, when used bare.
        on_failure_fail_dagrun: let a failure of this teardown fail the DAG run.
    """

    def decorate(function: Callable[..., Any] | TaskDecorator) -> TaskDecorator:
        decorator = _as_task_decorator(function)
        decorator.is_teardown = True
        decorator.on_failure_fail_dagrun = on_failure_fail_dagrun
        return decorator

    return decorate if python_callable is None else decorate(python_callable)


def _as_task_decorator(function: Callable[..., Any] | TaskDecorator) -> TaskDecorator:
    """Return ``function`` as a TaskDecorator, decorating a plain function with ``@task``."""
    from airlock.definitions.decorators import TaskDecorator, task  # noqa: PLC0415 -- cycle

    if isinstance(function, TaskDecorator):
        return function
    return task(function)
