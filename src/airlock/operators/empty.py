"""EmptyOperator: a task that does nothing, to group or join other tasks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airlock.definitions.baseoperator import BaseOperator

if TYPE_CHECKING:
    from airlock.definitions.context import Context


class EmptyOperator(BaseOperator):
    """A task that does nothing when it runs; useful as a start, end or join point."""

    ui_color = "#e8f7e4"

    def execute(self, context: Context) -> None:
        """Do nothing."""
