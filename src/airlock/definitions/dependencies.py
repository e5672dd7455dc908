"""Dependencies between tasks: the ``>>`` and ``<<`` operators, ``chain`` and ``cross_downstream``.

Operators and XCom references both take part in dependencies; what they share is
:class:`DependencyMixin`. The edges themselves are stored by the operators.
"""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, TypeAlias, TypeVar

from airlock.exceptions import DagDefinitionError

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Self

Relatives: TypeAlias = "DependencyMixin | Sequence[DependencyMixin]"
"""What a dependency can point at: one task (or XCom reference), or a list of them."""

_RelativesT = TypeVar("_RelativesT", bound="DependencyMixin | Sequence[DependencyMixin]")


class DependencyMixin(ABC):
    """Something that can be upstream or downstream of a task: an operator or an XComArg.

    ``a >> b`` makes ``b`` run after ``a`` and returns ``b``, so chains read left to right;
    lists work on either side (``[a, b] >> c``, ``a >> [b, c]``).
    """

    @abstractmethod
    def set_upstream(self, other: Relatives) -> None:
        """Make ``other`` (a task or a list of tasks) run before this one."""

    @abstractmethod
    def set_downstream(self, other: Relatives) -> None:
        """Make ``other`` (a task or a list of tasks) run after this one."""

    def __rshift__(self, other: _RelativesT) -> _RelativesT:
        self.set_downstream(other)
        return other

    def __lshift__(self, other: _RelativesT) -> _RelativesT:
        self.set_upstream(other)
        return other

    def __rrshift__(self, other: Sequence[DependencyMixin]) -> Self:
        self.set_upstream(other)
        return self

    def __rlshift__(self, other: Sequence[DependencyMixin]) -> Self:
        self.set_downstream(other)
        return self


def chain(*tasks: Relatives) -> None:
    """Link ``tasks`` one after the other, as Airflow's ``chain`` does.

    A single task next to a list is linked to every task of the list; two adjacent lists must
    have the same length and are linked pairwise (first to first, second to second, ...).

    Args:
        *tasks: operators, XComArgs, or lists of them, in the order they must run.

    Raises:
        DagDefinitionError: two adjacent lists differ in length.
        TypeError: an element is neither a task nor a list of tasks.
    """
    for upstream, downstream in itertools.pairwise(tasks):
        _link(upstream, downstream)


def cross_downstream(from_tasks: Sequence[Relatives], to_tasks: Relatives) -> None:
    """Make every task of ``to_tasks`` run after every task of ``from_tasks``.

    Args:
        from_tasks: the tasks that run first.
        to_tasks: the tasks that run after all of ``from_tasks``.
    """
    for task in from_tasks:
        _as_dependency(task).set_downstream(to_tasks)


def _link(upstream: Relatives, downstream: Relatives) -> None:
    """Link two adjacent elements of a ``chain``."""
    if isinstance(upstream, DependencyMixin):
        upstream.set_downstream(downstream)
    elif isinstance(downstream, DependencyMixin):
        downstream.set_upstream(upstream)
    else:
        _link_pairwise(upstream, downstream)


def _link_pairwise(
    upstream: Sequence[DependencyMixin], downstream: Sequence[DependencyMixin]
) -> None:
    """Link two adjacent lists of a ``chain`` element by element."""
    if len(upstream) != len(downstream):
        raise DagDefinitionError(
            f"chain() cannot link a list of {len(upstream)} tasks to a list of "
            f"{len(downstream)} tasks: adjacent lists are linked pairwise, so they must have "
            "the same length (use cross_downstream() to link every task to every task)"
        )
    for up, down in zip(upstream, downstream, strict=True):
        _as_dependency(up).set_downstream(down)


def _as_dependency(value: object) -> DependencyMixin:
    """Return ``value`` if it can take part in a dependency.

    Raises:
        TypeError: ``value`` is neither an operator nor an XComArg.
    """
    if not isinstance(value, DependencyMixin):
        raise TypeError(
            f"cannot set a dependency on {type(value).__name__} {value!r}: "
            "expected an operator, an XComArg, or a list of them"
        )
    return value
