"""BranchDateTimeOperator: follow one branch inside a time window and another outside it."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from airlock.exceptions import DagDefinitionError
from airlock.operators.branch import BaseBranchOperator

if TYPE_CHECKING:
    from collections.abc import Iterable

    from airlock.definitions.context import Context


class BranchDateTimeOperator(BaseBranchOperator):
    """Follow ``follow_task_ids_if_true`` when now (or the logical date) is within the window.

    Args:
        follow_task_ids_if_true: the task id(s) to follow inside the window.
        follow_task_ids_if_false: the task id(s) to follow outside it.
        target_lower: the window's start (a datetime, or a time of day); None for no start.
        target_upper: the window's end (a datetime, or a time of day); None for no end.
        use_task_logical_date: compare the run's logical date instead of the current time.
        **kwargs: any argument of :class:`~airlock.definitions.baseoperator.BaseOperator`.

    Raises:
        DagDefinitionError: both bounds are None.
    """

    def __init__(
        self,
        *,
        follow_task_ids_if_true: str | Iterable[str],
        follow_task_ids_if_false: str | Iterable[str],
        target_lower: dt.datetime | dt.time | None,
        target_upper: dt.datetime | dt.time | None,
        use_task_logical_date: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if target_lower is None and target_upper is None:
            raise DagDefinitionError(
                f"task {self.task_id!r}: target_lower and target_upper are both None; give at "
                "least one bound to compare the current datetime with"
            )
        self.follow_task_ids_if_true = follow_task_ids_if_true
        self.follow_task_ids_if_false = follow_task_ids_if_false
        self.target_lower = target_lower
        self.target_upper = target_upper
        self.use_task_logical_date = use_task_logical_date

    def choose_branch(self, context: Context) -> str | Iterable[str] | None:
        """Compare now (or the logical date) with the window."""
        now = _now(context, use_logical_date=self.use_task_logical_date)
        lower, upper = target_times_as_dates(now, self.target_lower, self.target_upper)
        if (upper is not None and upper < now) or (lower is not None and lower > now):
            return self.follow_task_ids_if_false
        return self.follow_task_ids_if_true


def _now(context: Context, *, use_logical_date: bool) -> dt.datetime:
    if use_logical_date and context.get("logical_date") is not None:
        return context["logical_date"]  # type: ignore[return-value]
    return dt.datetime.now(dt.UTC)


def target_times_as_dates(
    base: dt.datetime, lower: dt.datetime | dt.time | None, upper: dt.datetime | dt.time | None
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """Return the window's bounds as datetimes on ``base``'s day (times of day are placed there).

    A window of times of day whose end is before its start ends on the next day. Naive bounds
    take ``base``'s time zone.
    """
    low = _on_day(base, lower)
    high = _on_day(base, upper)
    if low is not None and high is not None and isinstance(upper, dt.time) and high < low:
        high += dt.timedelta(days=1)
    return low, high


def _on_day(base: dt.datetime, value: dt.datetime | dt.time | None) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=base.tzinfo)
    return dt.datetime.combine(base.date(), value, tzinfo=value.tzinfo or base.tzinfo)
