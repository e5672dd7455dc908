"""Edge labels: ``a >> Label("on error") >> b`` links ``a`` to ``b`` and names the edge.

airlock keeps no edge metadata (a UI would show it); a label only passes the dependency
through, so DAG files written with labels link exactly as they would without them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airlock.definitions.dependencies import DependencyMixin, Relatives

if TYPE_CHECKING:
    from collections.abc import Sequence


class EdgeModifier(DependencyMixin):
    """A stand-in on a dependency edge: what is linked before it runs before what follows it.

    Args:
        label: the edge's name, shown by UIs.
    """

    def __init__(self, label: str | None = None) -> None:
        self.label = label
        self._upstream: list[DependencyMixin] = []
        self._downstream: list[DependencyMixin] = []

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.label!r})"

    def set_upstream(self, other: Relatives) -> None:
        """Link ``other`` to everything already downstream of this edge, and remember it."""
        items = _items(other)
        self._upstream.extend(items)
        for upstream in items:
            for downstream in self._downstream:
                upstream.set_downstream(downstream)

    def set_downstream(self, other: Relatives) -> None:
        """Link everything already upstream of this edge to ``other``, and remember it."""
        items = _items(other)
        self._downstream.extend(items)
        for upstream in self._upstream:
            for downstream in items:
                upstream.set_downstream(downstream)


class Label(EdgeModifier):
    """A named edge: ``a >> Label("valid") >> b`` is ``a >> b`` with a name for UIs."""


def _items(other: Relatives) -> Sequence[DependencyMixin]:
    """Return a dependency argument as a list."""
    return [other] if isinstance(other, DependencyMixin) else list(other)
