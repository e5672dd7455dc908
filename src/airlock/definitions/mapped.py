"""Dynamic task mapping: ``Operator.partial(...).expand(...)``, ``@task.expand()``, mapped groups.

A mapped task is one task of the DAG (one task id) that runs as several task instances, map
indexes ``0..n-1``, one per item of its mapped input. ``n`` is known only when the run gets
there: the scheduler counts the items (from literals, or from the upstream XCom), and each
mapped task instance's runner builds the plain operator with its own item
(:meth:`MappedOperator.unmap`) and runs that.

Arguments given to ``partial()`` are shared by every mapped task instance; ``default_args``
(the DAG's, its task groups', the task's) are merged into them when the task is defined.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from airlock.definitions.baseoperator import BaseOperator, _with_default_args, accepted_keywords
from airlock.definitions.expand_input import (
    DictOfListsExpandInput,
    ExpandInput,
    ListOfDictsExpandInput,
    MappedArgument,
    is_mappable,
)
from airlock.definitions.taskgroup import MappedTaskGroup, TaskGroup
from airlock.definitions.xcom_arg import ResolveMixin, iter_xcom_args
from airlock.exceptions import DagDefinitionError

if TYPE_CHECKING:
    from airlock.definitions.context import Context
    from airlock.definitions.decorators import TaskDecorator
    from airlock.definitions.taskgroup import TaskGroupDecorator
    from airlock.definitions.xcom_arg import XComArg

_NOT_MAPPABLE: Final = frozenset({"task_id", "dag", "task_group", "default_args"})
_NAMED_KINDS: Final = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


class MappedOperator(BaseOperator):
    """A task that runs once per item of its mapped input (see the module docstring).

    Its scheduling settings (retries, pool, trigger rule...) are those of ``partial()``; it is
    never executed itself: each mapped task instance runs :meth:`unmap`'s operator.

    Args:
        operator_class: the operator each mapped task instance runs.
        partial_kwargs: the arguments shared by every mapped task instance.
        expand_input: what the task is expanded over.
        mapped_into: for ``@task`` functions, the keyword (``op_kwargs``) the mapped arguments
            are merged into; None when they are the operator's own arguments.
        **kwargs: BaseOperator arguments (``task_id``, ``retries``, ...).
    """

    def __init__(
        self,
        *,
        operator_class: type[BaseOperator],
        partial_kwargs: dict[str, Any],
        expand_input: ExpandInput,
        mapped_into: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        group = self.get_closest_mapped_task_group()
        if group is not None:
            raise DagDefinitionError(
                f"task {self.task_id!r} is mapped inside the mapped task group "
                f"{group.group_id!r}: mapping inside a mapped task group is not supported"
            )
        self.operator_class = operator_class
        self.partial_kwargs = partial_kwargs
        self.expand_input = expand_input
        self.mapped_into = mapped_into
        for operator, _ in expand_input.iter_references():
            self.set_upstream(operator)
        for xcom_arg in iter_xcom_args(partial_kwargs):
            self.set_upstream(xcom_arg)

    def __repr__(self) -> str:
        return f"<Mapped({self.operator_class.__name__}): {self.task_id}>"

    @property
    def is_mapped(self) -> bool:
        """Always True: this task runs as mapped task instances."""
        return True

    @property
    def task_type(self) -> str:
        """The class name of the operator each mapped task instance runs."""
        return self.operator_class.__name__

    def execute(self, context: Context) -> Any:
        """Run :meth:`unmap`'s operator (the runner does this for each mapped task instance)."""
        return self.unmap(context).execute(context)

    def unmap(self, context: Context) -> BaseOperator:
        """Return the plain operator of the running task instance, with its own mapped item.

        Raises:
            IndexError: the map index is past the mapped input's items.
            TypeError: a mapped value is not a list or dict, or the operator rejects an argument.
        """
        mapped = self.expand_input.resolve(context, context["ti"].map_index)
        kwargs = dict(self.partial_kwargs)
        if self.mapped_into is None:
            kwargs.update(mapped)
        else:
            kwargs[self.mapped_into] = {**(kwargs.get(self.mapped_into) or {}), **mapped}
        return build_like(self, self.operator_class, kwargs)


def build_like(
    template: BaseOperator, cls: type[BaseOperator], kwargs: dict[str, Any]
) -> BaseOperator:
    """Construct ``cls(task_id=template.task_id, **kwargs)`` standing in ``template``'s place.

    ``kwargs`` already hold the merged ``default_args``, so the constructor neither merges them
    again nor wires dependencies; the new operator shares ``template``'s DAG, group and
    dependencies without being added to the DAG.
    """
    operator = cls.__new__(cls)
    operator._init_started = True  # noqa: SLF001 -- skip the default_args merge: done at parse time
    operator.__init__(task_id=template.task_id, **kwargs)  # type: ignore[misc]
    operator._dag = template.dag  # noqa: SLF001 -- stands in for a task of that DAG
    operator._upstream = dict(template._upstream)  # noqa: SLF001 -- same dependencies
    operator._downstream = dict(template._downstream)  # noqa: SLF001 -- same dependencies
    operator.task_group = template.task_group
    return operator


class OperatorPartial:
    """``Operator.partial(**kwargs)``: an operator class with its shared arguments, to expand.

    Args:
        operator_class: the operator to map.
        kwargs: the shared arguments; ``task_id`` is required.

    Raises:
        TypeError: ``task_id`` is missing, or an argument is unknown to the operator.
    """

    def __init__(self, operator_class: type[BaseOperator], kwargs: dict[str, Any]) -> None:
        if "task_id" not in kwargs:
            raise TypeError(f"{operator_class.__name__}.partial() needs a task_id")
        _check_known(operator_class, kwargs, "partial")
        self.operator_class = operator_class
        self.kwargs = _with_default_args(operator_class, (), kwargs)

    def __repr__(self) -> str:
        return f"{self.operator_class.__name__}.partial(task_id={self.kwargs['task_id']!r})"

    def expand(self, **mapped: Any) -> MappedOperator:
        """Map the task over the items of ``mapped``'s values (the cross product of them all).

        Raises:
            TypeError: an argument is unknown, given twice, or required and missing.
            ValueError: a value is not a list, dict or XComArg.
        """
        _check_expand(self.operator_class, self.kwargs, mapped)
        _check_required(self.operator_class, self.kwargs.keys() | mapped.keys())
        return self.build(DictOfListsExpandInput(mapped))

    def expand_kwargs(self, value: Any) -> MappedOperator:
        """Map the task over a list of dicts of arguments (or an XComArg giving one).

        Raises:
            TypeError: ``value`` is neither a list nor an XComArg.
        """
        return self.build(ListOfDictsExpandInput(_checked_kwargs_list(value)))

    def build(self, expand_input: ExpandInput, *, mapped_into: str | None = None) -> MappedOperator:
        """Add the mapped task over ``expand_input`` to the DAG (``expand`` calls this).

        Args:
            expand_input: what the task is expanded over.
            mapped_into: the keyword the mapped arguments are merged into (``op_kwargs`` for
                ``@task`` functions); None when they are the operator's own arguments.
        """
        base = accepted_keywords(BaseOperator)
        partial = {k: v for k, v in self.kwargs.items() if k not in {"dag", "default_args"}}
        settings = {k: v for k, v in self.kwargs.items() if k in base and k != "default_args"}
        partial.pop("task_id")
        partial.pop("task_group", None)
        return MappedOperator(
            operator_class=self.operator_class,
            partial_kwargs=partial,
            expand_input=expand_input,
            mapped_into=mapped_into,
            **settings,
        )


class PartialTaskDecorator:
    """``@task`` function ``.partial(**kwargs)``: some function arguments fixed, to expand.

    Args:
        decorator: the decorated function.
        kwargs: the function arguments shared by every mapped task instance.
    """

    def __init__(self, decorator: TaskDecorator, kwargs: dict[str, Any]) -> None:
        self.decorator = decorator
        self.kwargs = kwargs

    def expand(self, **mapped: Any) -> XComArg:
        """Map the function over the items of ``mapped``'s values; return the mapped output.

        Raises:
            TypeError: an argument is given twice, or the function does not take it.
            ValueError: a value is not a list, dict or XComArg.
        """
        _check_function_arguments(self.decorator, self.kwargs.keys() | mapped.keys())
        _check_values(self.decorator.function.__name__, self.kwargs, mapped)
        return self.decorator.build_mapped(self.kwargs, DictOfListsExpandInput(mapped))

    def expand_kwargs(self, value: Any) -> XComArg:
        """Map the function over a list of dicts of its arguments (or an XComArg giving one)."""
        return self.decorator.build_mapped(
            self.kwargs, ListOfDictsExpandInput(_checked_kwargs_list(value))
        )


class PartialTaskGroup:
    """``@task_group`` function ``.partial(**kwargs)``: some arguments fixed, to expand.

    Args:
        decorator: the decorated group function.
        kwargs: the function arguments shared by every mapped task instance.
    """

    def __init__(self, decorator: TaskGroupDecorator, kwargs: dict[str, Any]) -> None:
        self.decorator = decorator
        self.kwargs = kwargs

    def expand(self, **mapped: Any) -> Any:
        """Build the group so that each of its tasks runs once per item of ``mapped``'s values."""
        name = self.decorator.function.__name__
        _check_values(name, self.kwargs, mapped)
        expand_input = DictOfListsExpandInput(mapped)
        arguments = {key: MappedArgument(expand_input, key) for key in mapped}
        return self._build(expand_input, {**self.kwargs, **arguments})

    def expand_kwargs(self, value: Any) -> Any:
        """Build the group so that each of its tasks runs once per dict of arguments."""
        raise DagDefinitionError(
            f"@task_group {self.decorator.function.__name__!r}: expand_kwargs() is not supported "
            f"for task groups (got {type(value).__name__}); use expand() with one list per argument"
        )

    def _build(self, expand_input: ExpandInput, arguments: dict[str, Any]) -> Any:
        settings = self.decorator.group_arguments()
        group_id = settings.pop("group_id")
        with MappedTaskGroup(group_id, expand_input=expand_input, **settings) as group:
            result = self.decorator.function(**arguments)
        return group if result is None else result


def mapped_consumers(task: BaseOperator) -> list[str]:
    """Return the ids of the direct downstream tasks that are expanded over ``task``'s output."""
    consumers: list[str] = []
    for downstream in task.downstream_list:
        expand_input = _expand_input_of(downstream)
        if expand_input is None:
            continue
        if any(op is task and key == "return_value" for op, key in expand_input.iter_references()):
            consumers.append(downstream.task_id)
    return consumers


def expand_input_of(task: BaseOperator) -> ExpandInput | None:
    """Return what ``task`` is expanded over: its own input, or its mapped group's, or None."""
    return _expand_input_of(task)


def _expand_input_of(task: BaseOperator) -> ExpandInput | None:
    if isinstance(task, MappedOperator):
        return task.expand_input
    group = task.get_closest_mapped_task_group()
    if isinstance(group, MappedTaskGroup):
        return group.expand_input
    return None


def closest_group_id(task: BaseOperator) -> str | None:
    """Return the id of the task's innermost task group, or None."""
    group: TaskGroup | None = task.task_group
    return group.group_id if group is not None else None


# --- argument checks ---------------------------------------------------------------------------


def _check_known(cls: type[BaseOperator], kwargs: Mapping[str, Any], method: str) -> None:
    """Raise a TypeError naming the arguments ``cls`` does not accept."""
    unknown = sorted(kwargs.keys() - accepted_keywords(cls) - {"task_group"})
    if unknown:
        raise TypeError(
            f"{cls.__name__}.{method}() got unexpected keyword arguments: {', '.join(unknown)}"
        )


def _check_expand(
    cls: type[BaseOperator], partial: Mapping[str, Any], mapped: Mapping[str, Any]
) -> None:
    """Check ``expand()``'s arguments against the operator and ``partial()``'s."""
    if not mapped:
        raise TypeError(f"{cls.__name__}.expand() needs at least one argument to map over")
    _check_known(cls, mapped, "expand")
    fixed = sorted(mapped.keys() & _NOT_MAPPABLE)
    if fixed:
        raise TypeError(
            f"{cls.__name__}.expand() cannot map {', '.join(fixed)}; pass it to partial()"
        )
    _check_values(str(partial.get("task_id")), partial, mapped)


def _check_values(name: str, partial: Mapping[str, Any], mapped: Mapping[str, Any]) -> None:
    """Check that no argument is given twice and every mapped value can be mapped over."""
    twice = sorted(mapped.keys() & partial.keys())
    if twice:
        raise TypeError(f"{name!r}: {', '.join(twice)} given to both partial() and expand()")
    if not mapped:
        raise TypeError(f"{name!r}: expand() needs at least one argument to map over")
    for key, value in mapped.items():
        if not is_mappable(value):
            raise ValueError(
                f"{name!r}: expand() got a value of type {type(value).__name__} for argument "
                f"{key!r}; "
                "pass a list, tuple, dict or XComArg to map over (use partial() for a value "
                "shared by every mapped task instance)"
            )


def _check_required(cls: type[BaseOperator], given: set[str]) -> None:
    """Raise a TypeError naming the required operator arguments neither partial nor mapped."""
    missing = sorted(_required_keywords(cls) - given)
    if missing:
        raise TypeError(
            f"{cls.__name__} needs {', '.join(missing)}: pass it to partial() or expand()"
        )


def _required_keywords(cls: type[BaseOperator]) -> set[str]:
    """Return the keyword arguments without default of the ``__init__`` chain of ``cls``."""
    required: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        parameters = inspect.signature(inspect.unwrap(init)).parameters.values()
        required.update(
            p.name for p in parameters if p.kind in _NAMED_KINDS and p.default is p.empty
        )
        if klass is BaseOperator or not any(p.kind is p.VAR_KEYWORD for p in parameters):
            break
    required.discard("self")
    return required


def _check_function_arguments(decorator: TaskDecorator, names: set[str]) -> None:
    """Raise a TypeError naming arguments the decorated function does not take."""
    parameters = inspect.signature(decorator.function).parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return
    unknown = sorted(names - {p.name for p in parameters if p.kind in _NAMED_KINDS})
    if unknown:
        raise TypeError(
            f"{decorator.function.__name__}() has no argument {', '.join(unknown)} to map over"
        )


def _checked_kwargs_list(value: Any) -> Any:
    """Return ``expand_kwargs()``'s argument if it is a list (of dicts/XComArgs) or an XComArg.

    Raises:
        TypeError: it is something else.
    """
    if isinstance(value, ResolveMixin):
        return value
    if not isinstance(value, Sequence) or isinstance(value, str | bytes):
        raise TypeError(
            f"expand_kwargs() takes a list of dicts or an XComArg, not {type(value).__name__}"
        )
    for index, item in enumerate(value):
        if not isinstance(item, Mapping | ResolveMixin):
            raise TypeError(
                f"expand_kwargs() takes a list of dicts; item {index} is a {type(item).__name__}"
            )
    return value
