"""XComArgs transformed for mapping: ``arg.map(f)``, ``arg.zip(*others)``, ``arg.concat(*others)``.

Each is a reference like :class:`~airlock.definitions.xcom_arg.XComArg`, but what it resolves to
is a read-only sequence computed from the referenced values, item by item, when an item is read.
Their lengths follow from their inputs' lengths, which lets the scheduler count the mapped task
instances without running user code: ``map`` keeps the length, ``zip`` takes the shortest (the
longest with a ``fillvalue``), ``concat`` adds them up.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airlock.definitions.xcom_arg import NOTSET, XComArg

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airlock.definitions.baseoperator import BaseOperator
    from airlock.definitions.context import Context


def _check_sequence(value: Any, what: str) -> Sequence[Any] | Mapping[Any, Any]:
    """Return ``value`` if it is a sequence (not a string) or a dict.

    Raises:
        TypeError: it is not; the message says which transform needed it.
    """
    if isinstance(value, Mapping) or (
        isinstance(value, Sequence) and not isinstance(value, str | bytes)
    ):
        return value
    raise TypeError(f"XComArg.{what}() needs a list or dict to work on, not {type(value).__name__}")


def _item(container: Sequence[Any] | Mapping[Any, Any], index: int) -> Any:
    """Return the item at position ``index``: a list element, or a dict's ``(key, value)``."""
    if isinstance(container, Mapping):
        return next(itertools.islice(container.items(), index, None))
    return container[index]


class _TransformedXComArg(XComArg):
    """Shared behaviour of the transformed references: dependencies follow every input."""

    args: list[XComArg]

    @property
    def operator(self) -> BaseOperator:  # type: ignore[override]
        """The first referenced task (see :attr:`operators` for all of them)."""
        return self.args[0].operator

    @property
    def key(self) -> str:  # type: ignore[override]
        """The first referenced XCom key."""
        return self.args[0].key

    def iter_references(self) -> Iterator[tuple[BaseOperator, str]]:
        """Yield every ``(task, key)`` the transformed value reads."""
        for arg in self.args:
            yield from arg.iter_references()

    def __getitem__(self, key: str) -> XComArg:
        raise TypeError(f"{self!r} has no XCom keys to index; index the XComArg it was made from")

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)


class MapXComArg(_TransformedXComArg):
    """``arg.map(f)``: the items of ``arg``, each passed through the functions in order.

    Args:
        arg: the reference whose items are transformed.
        functions: plain functions, applied one after the other to each item.

    Raises:
        TypeError: a function is a ``@task`` (map takes plain functions) or not callable.
    """

    def __init__(self, arg: XComArg, functions: list[Callable[[Any], Any]]) -> None:
        for function in functions:
            candidate: object = function
            if hasattr(candidate, "function") or not callable(candidate):
                raise TypeError(
                    f"XComArg.map() takes a plain function, not {function!r}: a @task "
                    "cannot be a map function; call it on the mapped values instead"
                )
        self.args = [arg]
        self.functions = functions

    def __repr__(self) -> str:
        names = "".join(f".map({getattr(f, '__name__', f)!s})" for f in self.functions)
        return f"{self.args[0]!r}{names}"

    def map(self, function: Callable[[Any], Any]) -> MapXComArg:
        """Return a reference that also applies ``function`` (``a.map(f).map(g)``)."""
        return MapXComArg(self.args[0], [*self.functions, function])

    def resolve(self, context: Context) -> Any:
        """Return the lazily transformed sequence of the referenced items."""
        value = _check_sequence(self.args[0].resolve(context), "map")
        return MappedValues(value, self.functions)


class ZipXComArg(_TransformedXComArg):
    """``arg.zip(*others)``: tuples of the items at the same position in every input.

    Args:
        args: the references to zip (at least one).
        fillvalue: fill shorter inputs up to the longest with this; by default the result is
            as long as the shortest input.
    """

    def __init__(self, args: list[XComArg], *, fillvalue: Any = NOTSET) -> None:
        for arg in args:
            if not isinstance(arg, XComArg):
                raise TypeError(f"XComArg.zip() takes XComArgs, not {type(arg).__name__}")
        self.args = args
        self.fillvalue = fillvalue

    @property
    def has_fillvalue(self) -> bool:
        """Whether shorter inputs are filled up to the longest."""
        return self.fillvalue is not NOTSET

    def __repr__(self) -> str:
        rest = ", ".join(repr(arg) for arg in self.args[1:])
        fill = f", fillvalue={self.fillvalue!r}" if self.has_fillvalue else ""
        return f"{self.args[0]!r}.zip({rest}{fill})"

    def resolve(self, context: Context) -> Any:
        """Return the lazily zipped sequence of the referenced values."""
        values = [_check_sequence(arg.resolve(context), "zip") for arg in self.args]
        return ZippedValues(values, self.fillvalue)


class ConcatXComArg(_TransformedXComArg):
    """``arg.concat(*others)``: the items of every input, one input after the other.

    Args:
        args: the references to chain (at least one).
    """

    def __init__(self, args: list[XComArg]) -> None:
        for arg in args:
            if not isinstance(arg, XComArg):
                raise TypeError(f"XComArg.concat() takes XComArgs, not {type(arg).__name__}")
        self.args = args

    def __repr__(self) -> str:
        return f"{self.args[0]!r}.concat({', '.join(repr(arg) for arg in self.args[1:])})"

    def concat(self, *others: XComArg) -> ConcatXComArg:
        """Return a reference that also chains ``others`` (``a.concat(b).concat(c)``)."""
        return ConcatXComArg([*self.args, *others])

    def resolve(self, context: Context) -> Any:
        """Return the lazily chained sequence of the referenced values."""
        return ConcatenatedValues(
            [_check_sequence(a.resolve(context), "concat") for a in self.args]
        )


class MappedValues(Sequence[Any]):
    """The items of a list (or a dict's ``(key, value)`` pairs), transformed when read."""

    def __init__(
        self, value: Sequence[Any] | Mapping[Any, Any], functions: list[Callable[[Any], Any]]
    ) -> None:
        self._value = value
        self._functions = functions

    def __len__(self) -> int:
        return len(self._value)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(len(self))[index]]
        item = _item(self._value, _position(index, len(self)))
        for function in self._functions:
            item = function(item)
        return item


class ZippedValues(Sequence[Any]):
    """Tuples of the items at one position of several sequences."""

    def __init__(self, values: list[Sequence[Any] | Mapping[Any, Any]], fillvalue: Any) -> None:
        self._values = values
        self._fillvalue = fillvalue

    def __len__(self) -> int:
        lengths = [len(value) for value in self._values]
        return max(lengths) if self._fillvalue is not NOTSET else min(lengths)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(len(self))[index]]
        position = _position(index, len(self))
        return tuple(
            _item(value, position) if position < len(value) else self._fillvalue
            for value in self._values
        )


class ConcatenatedValues(Sequence[Any]):
    """The items of several sequences, one after the other."""

    def __init__(self, values: list[Sequence[Any] | Mapping[Any, Any]]) -> None:
        self._values = values

    def __len__(self) -> int:
        return sum(len(value) for value in self._values)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(len(self))[index]]
        position = _position(index, len(self))
        for value in self._values:
            if position < len(value):
                return _item(value, position)
            position -= len(value)
        raise IndexError(index)  # pragma: no cover -- _position checked the range


def _position(index: int, length: int) -> int:
    """Return a non-negative position for ``index`` (negative counts from the end).

    Raises:
        IndexError: the index is out of range.
    """
    position = index + length if index < 0 else index
    if not 0 <= position < length:
        raise IndexError(f"index {index} is out of range for {length} items")
    return position
