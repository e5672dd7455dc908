"""BranchDayOfWeekOperator and ``WeekDay``: follow a branch on some days of the week."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from airlock.exceptions import DagDefinitionError
from airlock.operators.branch import BaseBranchOperator

if TYPE_CHECKING:
    from airlock.definitions.context import Context


class WeekDay(IntEnum):
    """The days of the week, numbered as ISO 8601 does (Monday is 1)."""

    MONDAY = 1
    TUESDAY = 2
    WEDNESDAY = 3
    THURSDAY = 4
    FRIDAY = 5
    SATURDAY = 6
    SUNDAY = 7

    @classmethod
    def get_weekday_number(cls, week_day_str: str) -> int:
        """Return the ISO number of a day given by name (any case).

        Raises:
            AttributeError: the name is not a day of the week.
        """
        sanitized = week_day_str.upper()
        if sanitized not in cls.__members__:
            raise AttributeError(f'Invalid Week Day passed: "{week_day_str}"')
        return cls[sanitized].value

    @classmethod
    def convert(cls, day: str | WeekDay) -> int:
        """Return the ISO number of a day given by name or as a WeekDay."""
        if isinstance(day, WeekDay):
            return day.value
        return cls.get_weekday_number(day)

    @classmethod
    def validate_week_day(cls, week_day: str | WeekDay | Iterable[str | WeekDay]) -> set[int]:
        """Return the ISO numbers of one day or several.

        Raises:
            TypeError: ``week_day`` is not a day name, a WeekDay, or an iterable of them.
            AttributeError: a name is not a day of the week.
        """
        if isinstance(week_day, str | WeekDay):
            return {cls.convert(week_day)}
        if isinstance(week_day, Iterable):
            return {cls.convert(day) for day in week_day}
        raise TypeError(
            f"Unsupported Type for week_day parameter: {type(week_day).__name__}; pass a day "
            "name, a WeekDay, or a set of them"
        )


class BranchDayOfWeekOperator(BaseBranchOperator):
    """Follow ``follow_task_ids_if_true`` on the given days of the week, else the other branch.

    Args:
        follow_task_ids_if_true: the task id(s) to follow on those days.
        follow_task_ids_if_false: the task id(s) to follow on the other days.
        week_day: a day name (``"Monday"``), a :class:`WeekDay`, or a set of them.
        use_task_logical_date: look at the run's logical date instead of today.
        **kwargs: any argument of :class:`~airlock.definitions.baseoperator.BaseOperator`.

    Raises:
        DagDefinitionError: ``week_day`` names no valid day.
    """

    def __init__(
        self,
        *,
        follow_task_ids_if_true: str | Iterable[str],
        follow_task_ids_if_false: str | Iterable[str],
        week_day: str | WeekDay | Iterable[str | WeekDay],
        use_task_logical_date: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        try:
            self._week_day_num = WeekDay.validate_week_day(week_day)
        except (AttributeError, TypeError) as exc:
            raise DagDefinitionError(f"task {self.task_id!r}: {exc}") from None
        self.follow_task_ids_if_true = follow_task_ids_if_true
        self.follow_task_ids_if_false = follow_task_ids_if_false
        self.week_day = week_day
        self.use_task_logical_date = use_task_logical_date

    def choose_branch(self, context: Context) -> str | Iterable[str] | None:
        """Compare today's (or the logical date's) day of the week with ``week_day``."""
        logical_date = context.get("logical_date")
        if self.use_task_logical_date and logical_date is not None:
            now = logical_date
        else:
            now = dt.datetime.now(dt.UTC)
        if now.isoweekday() in self._week_day_num:
            return self.follow_task_ids_if_true
        return self.follow_task_ids_if_false
