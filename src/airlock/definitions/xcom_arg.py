"""XCom references: a placeholder, at DAG-definition time, for a value a task will return.

``task.output`` and a call of a ``@task`` function give an :class:`XComArg`. Passing it to
another task wires the dependency; when that task runs, the reference is replaced by the value
pulled from XCom (:func:`resolve_xcom_args`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

from airlock.definitions.dependencies import DependencyMixin, Relatives

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airlock.definitions.baseoperator import BaseOperator
    from airlock.definitions.context import Context

RETURN_VALUE_KEY = "return_value"
"""The XCom key under which a task's return value is stored."""


class XComArg(DependencyMixin):
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
        self.operator.set_upstream(other)

    def set_downstream(self, other: Relatives) -> None:
        """Make ``other`` run after the referenced task."""
        self.operator.set_downstream(other)

    def resolve(self, context: Context) -> Any:
        """Return the referenced value, pulled from XCom through ``context["ti"]``."""
        return context["ti"].xcom_pull(task_ids=self.operator.task_id, key=self.key)


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
    """Return a copy of ``value`` with each XComArg replaced by the value it refers to.

    Containers keep their type (a tuple stays a tuple, a set a set); other values are returned
    as they are.
    """
    if isinstance(value, XComArg):
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
