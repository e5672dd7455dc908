"""The TaskFlow ``@task`` decorator: a plain function becomes a task factory.

Calling a decorated function inside a DAG adds a task that will call the function, and returns
an :class:`~airlock.definitions.xcom_arg.XComArg` for its result. XComArgs passed as arguments
make their tasks upstream of the new one and are replaced by their values when it runs.
"""

from __future__ import annotations

import functools
import re
import typing
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, overload

from airlock.definitions.baseoperator import accepted_keywords
from airlock.definitions.dag import DAG, current_dag
from airlock.definitions.taskgroup import TaskGroup, current_task_group
from airlock.operators.python import PythonOperator

if TYPE_CHECKING:
    from airlock.definitions.baseoperator import BaseOperator
    from airlock.definitions.context import Context
    from airlock.definitions.expand_input import ExpandInput
    from airlock.definitions.mapped import PartialTaskDecorator
    from airlock.definitions.xcom_arg import XComArg

_SET_BY_THE_CALL: Final = frozenset({"python_callable", "op_args", "op_kwargs"})


class DecoratedPythonOperator(PythonOperator):
    """The operator behind a ``@task`` function.

    With ``multiple_outputs``, the function must return a dict with str keys (or None).
    """

    custom_operator_name = "@task"

    def execute(self, context: Context) -> Any:
        """Call the function; check its result when ``multiple_outputs`` is set.

        Raises:
            TypeError: ``multiple_outputs`` is set and the result is not a dict with str keys.
        """
        result = super().execute(context)
        if self.multiple_outputs and result is not None:
            self._check_multiple_outputs(result)
        return result

    def _check_multiple_outputs(self, result: Any) -> None:
        """Raise a TypeError unless ``result`` is a dict whose keys are all strings."""
        if not isinstance(result, dict):
            raise TypeError(
                f"task {self.task_id!r} has multiple_outputs=True, so it must return a dict "
                f"with str keys, but it returned {type(result).__name__}"
            )
        bad = [key for key in result if not isinstance(key, str)]
        if bad:
            raise TypeError(
                f"task {self.task_id!r} has multiple_outputs=True, so the keys of the dict it "
                f"returns must be str, but it returned the key {bad[0]!r} "
                f"({type(bad[0]).__name__})"
            )


class TaskDecorator:
    """A function decorated with ``@task``: calling it adds a task and returns its XComArg.

    Args:
        function: the decorated function.
        kwargs: BaseOperator arguments for the tasks it creates (``task_id``, ``retries``, ...).

    Raises:
        TypeError: ``kwargs`` holds an argument the operator does not accept.
    """

    operator_class: type[BaseOperator] = DecoratedPythonOperator
    """The operator each call creates."""

    def __init__(self, function: Callable[..., Any], kwargs: dict[str, Any]) -> None:
        _check_task_kwargs(function, kwargs, self.operator_class)
        self.function = function
        self.kwargs = kwargs
        explicit = kwargs.get("multiple_outputs")
        self.multiple_outputs = _returns_mapping(function) if explicit is None else bool(explicit)
        self.is_setup = False
        self.is_teardown = False
        self.on_failure_fail_dagrun = False
        functools.update_wrapper(self, function)

    def __repr__(self) -> str:
        return f"<@task {self.function.__qualname__}>"

    def __call__(self, *args: Any, **kwargs: Any) -> XComArg:
        """Add a task that will call the function with these arguments; return its XComArg."""
        settings = self._settings()
        operator = self.operator_class(
            python_callable=self.function, op_args=args, op_kwargs=kwargs, **settings
        )
        self._mark_setup_teardown(operator)
        return operator.output

    def _settings(self) -> dict[str, Any]:
        """Return the operator arguments of the next task, with a task id unique in its DAG."""
        settings = {**self.kwargs, "multiple_outputs": self.multiple_outputs}
        dag = settings.get("dag") or current_dag()
        group = settings.get("task_group") or current_task_group()
        base_id = settings.pop("task_id", None) or self.function.__name__
        settings["task_id"] = unique_task_id(dag, base_id, group)
        return settings

    def _mark_setup_teardown(self, operator: BaseOperator) -> None:
        """Make the new task a setup or teardown task if the function was decorated so."""
        if self.is_setup:
            operator.as_setup()
        if self.is_teardown:
            operator.as_teardown(on_failure_fail_dagrun=self.on_failure_fail_dagrun)

    def override(self, **kwargs: Any) -> TaskDecorator:
        """Return a copy of this decorated function with some task arguments changed."""
        copy = type(self)(self.function, {**self.kwargs, **kwargs})
        copy.is_setup = self.is_setup
        copy.is_teardown = self.is_teardown
        copy.on_failure_fail_dagrun = self.on_failure_fail_dagrun
        return copy

    # --- dynamic task mapping ---------------------------------------------------------------

    def partial(self, **kwargs: Any) -> PartialTaskDecorator:
        """Fix some of the function's arguments for every mapped task instance of ``expand``."""
        from airlock.definitions.mapped import PartialTaskDecorator  # noqa: PLC0415 -- cycle

        return PartialTaskDecorator(self, kwargs)

    def expand(self, **mapped: Any) -> XComArg:
        """Add a mapped task: one task instance per item of ``mapped``'s values.

        Returns the reference to the mapped outputs (a downstream task receives them as a
        lazy sequence, in map index order).
        """
        return self.partial().expand(**mapped)

    def expand_kwargs(self, value: Any) -> XComArg:
        """Add a mapped task: one task instance per dict of arguments in ``value``."""
        return self.partial().expand_kwargs(value)

    def build_mapped(self, partial: dict[str, Any], expand_input: ExpandInput) -> XComArg:
        """Add the mapped task of ``partial``/``expand`` (see :class:`PartialTaskDecorator`)."""
        from airlock.definitions.mapped import OperatorPartial  # noqa: PLC0415 -- cycle

        settings = self._settings()
        arguments = {"python_callable": self.function, "op_args": (), "op_kwargs": partial}
        mapper = OperatorPartial(self.operator_class, {**arguments, **settings})
        operator = mapper.build(expand_input, mapped_into="op_kwargs")
        self._mark_setup_teardown(operator)
        return operator.output


class TaskDecoratorCollection:
    """The ``task`` object: ``@task``, ``@task(...)`` and ``@task.python(...)``."""

    @overload
    def __call__(self, python_callable: Callable[..., Any], /) -> TaskDecorator: ...

    @overload
    def __call__(
        self, python_callable: None = None, /, **kwargs: Any
    ) -> Callable[[Callable[..., Any]], TaskDecorator]: ...

    def __call__(
        self, python_callable: Callable[..., Any] | None = None, /, **kwargs: Any
    ) -> TaskDecorator | Callable[[Callable[..., Any]], TaskDecorator]:
        """Decorate a function as a task; usable bare (``@task``) or with arguments.

        Args:
            python_callable: the function, when used as bare ``@task``.
            **kwargs: BaseOperator arguments for the tasks (``task_id``, ``retries``,
                ``multiple_outputs``, ...).
        """
        if python_callable is not None:
            return TaskDecorator(python_callable, kwargs)
        return lambda function: TaskDecorator(function, kwargs)

    python = __call__

    # --- the other kinds of TaskFlow task (their operators live in airlock.operators) -------

    def branch(self, python_callable: Callable[..., Any] | None = None, /, **kwargs: Any) -> Any:
        """``@task.branch``: the function returns the task id(s) to follow; the rest are skipped."""
        from airlock.operators.branch import BranchTaskDecorator  # noqa: PLC0415 -- lazy

        return _decorate(BranchTaskDecorator, python_callable, kwargs)

    def short_circuit(
        self, python_callable: Callable[..., Any] | None = None, /, **kwargs: Any
    ) -> Any:
        """``@task.short_circuit``: a falsy result skips what comes after the task."""
        from airlock.operators.short_circuit import ShortCircuitTaskDecorator  # noqa: PLC0415

        return _decorate(ShortCircuitTaskDecorator, python_callable, kwargs)

    def bash(self, python_callable: Callable[..., Any] | None = None, /, **kwargs: Any) -> Any:
        """``@task.bash``: the function returns the bash command to run."""
        from airlock.operators.bash import BashTaskDecorator  # noqa: PLC0415 -- lazy

        return _decorate(BashTaskDecorator, python_callable, kwargs)

    def virtualenv(
        self, python_callable: Callable[..., Any] | None = None, /, **kwargs: Any
    ) -> Any:
        """``@task.virtualenv``: the function runs in a virtualenv with ``requirements``."""
        from airlock.operators.virtualenv import VirtualenvTaskDecorator  # noqa: PLC0415

        return _decorate(VirtualenvTaskDecorator, python_callable, kwargs)


def _decorate(
    kind: type[TaskDecorator], python_callable: Callable[..., Any] | None, kwargs: dict[str, Any]
) -> TaskDecorator | Callable[[Callable[..., Any]], TaskDecorator]:
    """Apply decorator class ``kind`` bare (``@task.kind``) or with arguments."""
    if python_callable is not None:
        return kind(python_callable, kwargs)
    return lambda function: kind(function, kwargs)


task = TaskDecoratorCollection()
"""Decorate a function as a TaskFlow task: ``@task``, ``@task(retries=2)``, ``@task.python``."""


def unique_task_id(dag: DAG | None, task_id: str, group: TaskGroup | None = None) -> str:
    """Return ``task_id``, or ``task_id__N`` if ``dag`` already has a task with that id.

    ``N`` is one more than the highest suffix in use, as in Airflow. Inside ``group`` the ids
    compared are the group-prefixed ones, and the returned id is still unprefixed.
    """
    full = group.child_id(task_id) if group is not None else task_id
    if dag is None or full not in dag.task_dict:
        return task_id
    pattern = re.compile(rf"{re.escape(full)}__(\d+)")
    suffixes = [int(m.group(1)) for tid in dag.task_dict if (m := pattern.fullmatch(tid))]
    return f"{task_id}__{max(suffixes, default=0) + 1}"


def _returns_mapping(function: Callable[..., Any]) -> bool:
    """Return whether the function's return annotation is a mapping type.

    An annotation that cannot be resolved counts as not a mapping.
    """
    try:
        annotation = typing.get_type_hints(function).get("return")
    except Exception:  # noqa: BLE001 -- any failure to resolve means "unknown", as in Airflow
        return False
    origin = typing.get_origin(annotation) or annotation
    return isinstance(origin, type) and issubclass(origin, Mapping)


def _check_task_kwargs(
    function: Callable[..., Any],
    kwargs: dict[str, Any],
    operator_class: type[BaseOperator] = DecoratedPythonOperator,
) -> None:
    """Reject, when the function is decorated, arguments the task's operator would reject."""
    accepted = accepted_keywords(operator_class) - _SET_BY_THE_CALL
    unknown = sorted(kwargs.keys() - accepted)
    if unknown:
        raise TypeError(
            f"@task on {getattr(function, '__qualname__', function)!r} got unexpected keyword "
            f"arguments: {', '.join(unknown)}"
        )
