"""What a mapped task is expanded over, and how one mapped task instance finds its own item.

``expand(x=[1, 2], y=upstream.output)`` gives a :class:`DictOfListsExpandInput`: the task runs
once per combination of items (the cross product; the last argument varies fastest, as in
Airflow). ``expand_kwargs(list_of_dicts)`` gives a :class:`ListOfDictsExpandInput`: one task
instance per dict. Expanding over a dict maps over its ``(key, value)`` pairs.

The scheduler counts the items from plain data (:meth:`spec`); the runner, holding the user's
objects, resolves the item of its own map index (:meth:`resolve`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

from airlock.definitions.serialized import ExpandSpec, MapSource
from airlock.definitions.xcom_arg import ResolveMixin, XComArg, resolve_xcom_args
from airlock.definitions.xcom_transforms import ConcatXComArg, MapXComArg, ZipXComArg
from airlock.exceptions import DagDefinitionError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airlock.definitions.baseoperator import BaseOperator
    from airlock.definitions.context import Context


def is_mappable(value: Any) -> bool:
    """Return whether ``expand()`` can map over ``value`` (a list, tuple, dict or reference)."""
    if isinstance(value, ResolveMixin):
        return True
    return isinstance(value, Mapping | Sequence) and not isinstance(value, str | bytes)


def item_at(container: Any, index: int) -> Any:
    """Return the item at position ``index``: a sequence element, or a dict's ``(key, value)``."""
    if isinstance(container, Mapping):
        return next(itertools.islice(container.items(), index, None))
    return container[index]


class MappedArgument(ResolveMixin):
    """A mapped task group's argument: in each task instance, the item of its map index.

    Args:
        expand_input: the group's expand input.
        key: the argument's name.
    """

    def __init__(self, expand_input: ExpandInput, key: str) -> None:
        self.expand_input = expand_input
        self.key = key

    def __repr__(self) -> str:
        return f"MappedArgument({self.key!r})"

    def iter_references(self) -> Iterator[tuple[BaseOperator, str]]:
        """Yield the tasks and keys the group's input reads."""
        yield from self.expand_input.iter_references()

    def resolve(self, context: Context) -> Any:
        """Return this argument's item for the running task instance."""
        return self.expand_input.resolve(context, context["ti"].map_index)[self.key]


class DictOfListsExpandInput:
    """``expand(**kwargs)``: each keyword maps over a list, dict or XCom reference.

    Args:
        value: the mapped keyword arguments.
    """

    def __init__(self, value: dict[str, Any]) -> None:
        self.value = value

    def iter_references(self) -> Iterator[tuple[BaseOperator, str]]:
        """Yield the tasks and keys the mapped values are read from."""
        for item in self.value.values():
            if isinstance(item, ResolveMixin):
                yield from item.iter_references()

    def literal_length(self) -> int | None:
        """Return the number of task instances when every argument is a literal, else None."""
        if any(isinstance(item, ResolveMixin) for item in self.value.values()):
            return None
        return math.prod(len(item) for item in self.value.values())

    def spec(self) -> ExpandSpec:
        """Return the plain-data description the scheduler counts the items from."""
        return ExpandSpec(kind="product", sources=tuple(_source(v) for v in self.value.values()))

    def resolve(self, context: Context, map_index: int) -> dict[str, Any]:
        """Return the keyword arguments of the task instance ``map_index``.

        Raises:
            IndexError: ``map_index`` is past the number of combinations.
            TypeError: a mapped value turned out not to be a list or dict.
        """
        values = {key: _resolved_sequence(key, item, context) for key, item in self.value.items()}
        lengths = [len(value) for value in values.values()]
        total = math.prod(lengths)
        if not 0 <= map_index < total:
            raise IndexError(
                f"map index {map_index} is out of range: the mapped arguments "
                f"{sorted(values)} give {total} combinations (did an upstream value change?)"
            )
        positions = _positions(map_index, lengths)
        return {
            key: item_at(value, pos)
            for (key, value), pos in zip(values.items(), positions, strict=True)
        }


class ListOfDictsExpandInput:
    """``expand_kwargs(value)``: one task instance per dict of keyword arguments.

    Args:
        value: a list of dicts (and XComArgs giving dicts), or an XComArg giving such a list.
    """

    def __init__(self, value: Any) -> None:
        self.value = value

    def iter_references(self) -> Iterator[tuple[BaseOperator, str]]:
        """Yield the tasks and keys the dicts are read from."""
        items = [self.value] if isinstance(self.value, ResolveMixin) else self.value
        for item in items:
            if isinstance(item, ResolveMixin):
                yield from item.iter_references()

    def literal_length(self) -> int | None:
        """Return the number of task instances when the list is given literally, else None."""
        return None if isinstance(self.value, ResolveMixin) else len(self.value)

    def spec(self) -> ExpandSpec:
        """Return the plain-data description the scheduler counts the items from."""
        if isinstance(self.value, ResolveMixin):
            return ExpandSpec(kind="list", sources=(_source(self.value),))
        return ExpandSpec(kind="list", sources=(MapSource(kind="literal", length=len(self.value)),))

    def resolve(self, context: Context, map_index: int) -> dict[str, Any]:
        """Return the keyword arguments of the task instance ``map_index``.

        Raises:
            TypeError: the item is not a dict with str keys.
        """
        items = self.value.resolve(context) if isinstance(self.value, ResolveMixin) else self.value
        if not isinstance(items, Sequence) or isinstance(items, str | bytes):
            raise TypeError(f"expand_kwargs() needs a list of dicts, not {type(items).__name__}")
        item = resolve_xcom_args(items[map_index], context)
        if not isinstance(item, Mapping):
            raise TypeError(
                f"expand_kwargs() needs a list of dicts, but item {map_index} is a "
                f"{type(item).__name__}"
            )
        bad = [key for key in item if not isinstance(key, str)]
        if bad:
            raise TypeError(
                f"expand_kwargs() dict keys must be str; item {map_index} has {bad[0]!r}"
            )
        return dict(item)


ExpandInput: TypeAlias = DictOfListsExpandInput | ListOfDictsExpandInput
"""What a mapped task (or mapped task group) is expanded over."""


def _positions(map_index: int, lengths: list[int]) -> list[int]:
    """Split a map index into one position per argument; the last argument varies fastest."""
    positions: list[int] = []
    for length in reversed(lengths):
        map_index, position = divmod(map_index, length)
        positions.append(position)
    return positions[::-1]


def _resolved_sequence(key: str, value: Any, context: Context) -> Any:
    """Return a mapped argument's value as a sized container.

    Raises:
        TypeError: the value (from an upstream task) is not a list or dict.
    """
    resolved = value.resolve(context) if isinstance(value, ResolveMixin) else value
    if not is_mappable(resolved):
        raise TypeError(
            f"cannot map over argument {key!r}: its value is a {type(resolved).__name__}, "
            "not a list or dict"
        )
    return resolved


def _source(value: Any) -> MapSource:
    """Describe one mapped value for the scheduler.

    Raises:
        DagDefinitionError: the value is a mapped task group's argument (nested mapping).
    """
    if isinstance(value, MapXComArg):
        return MapSource(kind="map", args=(_source(value.args[0]),))
    if isinstance(value, ZipXComArg):
        args = tuple(_source(arg) for arg in value.args)
        return MapSource(kind="zip", args=args, fill=value.has_fillvalue)
    if isinstance(value, ConcatXComArg):
        return MapSource(kind="concat", args=tuple(_source(arg) for arg in value.args))
    if isinstance(value, XComArg):
        return MapSource(kind="xcom", task_id=value.operator.task_id, key=value.key)
    if isinstance(value, MappedArgument):
        raise DagDefinitionError(
            f"cannot expand over the mapped task group argument {value.key!r}: a mapped task "
            "inside a mapped task group is not supported; pass the argument to a plain task"
        )
    return MapSource(kind="literal", length=len(value))
