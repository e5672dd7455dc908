"""XCom references: a placeholder, at DAG-definition time, for a value a task will return.

``task.output`` and a call of a ``@task`` function give an :class:`XComArg`. Passing it to
another task wires the dependency; when that task runs, the reference is replaced by the value
pulled from XCom (:func:`resolve_xcom_args`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, NoReturn, Self

from airlock.definitions.dependencies import DependencyMixin, Relatives

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from types import TracebackType

    from airlock.definitions.baseoperator import BaseOperator
    from airlock.definitions.context import Context
    from airlock.definitions.xcom_transforms import ConcatXComArg, MapXComArg, ZipXComArg

RETURN_VALUE_KEY = "return_value"
"""The XCom key under which a task's return value is stored."""


NOTSET: Any = object()
"""Marks an argument that was not passed (where ``None`` is a meaningful value)."""


class ResolveMixin(ABC):
    """A placeholder in task arguments that becomes a value when the task runs.

    XComArgs are the common kind; a mapped task group's arguments are another.
    """

    @abstractmethod
    def resolve(self, context: Context) -> Any:
        """Return the value this placeholder stands for in the running task."""

    @abstractmethod
    def iter_references(self) -> Iterator[tuple[BaseOperator, str]]:
        """Yield the ``(task, XCom key)`` pairs the value is read from."""


class XComArg(ResolveMixin, DependencyMixin):
    """A reference to the XCom ``key`` of ``operator``.

    Args:
        operator: the task whose XCom this refers to.
        key: the XCom key; the task's return value by default.
    """

    def __init__(self, operator: BaseOperator, key: str = RETURN_VALUE_KEY) -> None:
        self.operator = operator
        self.key = key

    def __getitem__(self, key: str) -> XComArg:
        """Return a reference to the XCom ``key`` of the same task (for ``multiple_outputs``)."""
        return XComArg(self.operator, key)

    def __iter__(self) -> NoReturn:
        # Without this, Python would "iterate" by calling __getitem__(0), (1), ... forever.
        raise TypeError(
            f"{self!r} cannot be iterated while the DAG is defined: its value exists only when "
            "the task runs; index it with a key (xcom_arg['key']) instead"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, XComArg):
            return NotImplemented
        return self.operator is other.operator and self.key == other.key

    def __hash__(self) -> int:
        return hash((id(self.operator), self.key))

    def __repr__(self) -> str:
        return f"XComArg(task_id={self.operator.task_id!r}, key={self.key!r})"

    def set_upstream(self, other: Relatives) -> None:
        """Make ``other`` run before the referenced task."""
        for operator in self.operators:
            operator.set_upstream(other)

    def set_downstream(self, other: Relatives) -> None:
        """Make ``other`` run after the referenced task."""
        for operator in self.operators:
            operator.set_downstream(other)

    def resolve(self, context: Context) -> Any:
        """Return the referenced value, pulled from XCom through ``context["ti"]``.

        The value of a mapped task is the lazy sequence of its mapped values, in map index
        order; inside a mapped task group, a task of the same group gives the value of the
        same map index.
        """
        ti = context["ti"]
        operator = self.operator
        if not operator.needs_expansion:
            return ti.xcom_pull(task_ids=operator.task_id, key=self.key)
        group = operator.get_closest_mapped_task_group()
        task = context.get("task")
        same_group = task is not None and task.get_closest_mapped_task_group() is group
        if group is not None and same_group and ti.map_index >= 0:
            return ti.xcom_pull(task_ids=operator.task_id, key=self.key, map_indexes=ti.map_index)
        return ti.xcom_sequence(operator.task_id, self.key)

    def iter_references(self) -> Iterator[tuple[BaseOperator, str]]:
        """Yield the referenced task and key."""
        yield self.operator, self.key

    @property
    def operators(self) -> list[BaseOperator]:
        """The tasks whose XComs this reference reads (one, unless zipped or concatenated)."""
        return list(dict.fromkeys(operator for operator, _ in self.iter_references()))

    # --- transforming a mapped input ----------------------------------------------------------

    def map(self, function: Callable[[Any], Any]) -> MapXComArg:
        """Return a reference whose items are ``function(item)`` of this value's items.

        The function runs lazily, in each task that reads an item (``expand`` over the result
        maps over the transformed items).
        """
        from airlock.definitions.xcom_transforms import MapXComArg  # noqa: PLC0415 -- cycle

        return MapXComArg(self, [function])

    def zip(self, *others: XComArg, fillvalue: Any = NOTSET) -> ZipXComArg:
        """Return a reference to the tuples of this value's items and ``others``' items.

        Like :func:`zip`, the result is as long as the shortest input; with ``fillvalue`` it
        is as long as the longest, missing items being ``fillvalue``
        (:func:`itertools.zip_longest`).
        """
        from airlock.definitions.xcom_transforms import ZipXComArg  # noqa: PLC0415 -- cycle

        return ZipXComArg([self, *others], fillvalue=fillvalue)

    def concat(self, *others: XComArg) -> ConcatXComArg:
        """Return a reference to this value's items followed by those of ``others``."""
        from airlock.definitions.xcom_transforms import ConcatXComArg  # noqa: PLC0415 -- cycle

        return ConcatXComArg([self, *others])

    # --- setup and teardown -------------------------------------------------------------------

    def as_setup(self) -> XComArg:
        """Mark the referenced task as a setup task; return this reference."""
        for operator in self.operators:
            operator.as_setup()
        return self

    def as_teardown(
        self, *, setups: Relatives | None = None, on_failure_fail_dagrun: bool | None = None
    ) -> XComArg:
        """Mark the referenced task as a teardown of ``setups``; return this reference."""
        for operator in self.operators:
            operator.as_teardown(setups=setups, on_failure_fail_dagrun=on_failure_fail_dagrun)
        return self

    def __enter__(self) -> Self:
        for operator in self.operators:
            operator.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for operator in reversed(self.operators):
            operator.__exit__(exc_type, exc_value, traceback)


def iter_xcom_args(value: Any) -> Iterator[XComArg]:
    """Yield every XComArg inside ``value``, walking lists, tuples, sets and dicts.

    Dict keys are walked as well as values.
    """
    if isinstance(value, XComArg):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from iter_xcom_args(key)
            yield from iter_xcom_args(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from iter_xcom_args(item)


def resolve_xcom_args(value: Any, context: Context) -> Any:
    """Return a copy of ``value`` with each XComArg (or other placeholder) replaced by its value.

    Containers keep their type (a tuple stays a tuple, a set a set); other values are returned
    as they are.
    """
    if isinstance(value, ResolveMixin):
        return value.resolve(context)
    if isinstance(value, dict):
        return _rebuild_dict(value, context)
    if isinstance(value, list | tuple | set | frozenset):
        return _rebuild_collection(value, context)
    return value


def _rebuild_dict(value: dict[Any, Any], context: Context) -> dict[Any, Any]:
    """Copy a dict (or dict subclass) with its keys and values resolved."""
    resolved = {
        resolve_xcom_args(k, context): resolve_xcom_args(v, context) for k, v in value.items()
    }
    if type(value) is dict:
        return resolved
    copy = value.copy()  # keeps the subclass and its settings (a defaultdict's factory, say)
    copy.clear()
    copy.update(resolved)
    return copy


def _rebuild_collection(
    value: list[Any] | tuple[Any, ...] | set[Any] | frozenset[Any], context: Context
) -> Any:
    """Copy a list, tuple or set (or a subclass of one) with its items resolved."""
    items = [resolve_xcom_args(item, context) for item in value]
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*items)  # a namedtuple takes its fields positionally
    return type(value)(items)
