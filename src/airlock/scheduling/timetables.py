"""When a DAG's runs are due: its schedule turned into logical dates and data intervals.

The rules are Airflow 3's defaults:

* a cron string or preset (``@daily``, ``@hourly``...) triggers at each cron point; the run's
  logical date is that point and its data interval is empty (start = end = the point), as with
  Airflow 3's ``CronTriggerTimetable``;
* a ``timedelta`` covers back-to-back intervals ``[start, start + delta)``; the run's logical date
  is the interval's start and it runs once the interval has ended;
* ``@once`` runs once, at ``start_date`` (or as soon as the DAG is seen);
* ``None`` never schedules: runs are triggered by hand.

``start_date`` is the earliest, ``end_date`` the latest logical date. Without ``catchup`` only
the most recent due run is created (missed ones are skipped); with it every missed one is.
Cron points are computed in ``start_date``'s time zone (UTC when it has none).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Protocol

from croniter import croniter

from airlock.exceptions import DagDefinitionError

CRON_PRESETS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@quarterly": "0 0 1 */3 *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
"""The presets that stand for a cron expression."""


@dataclass(frozen=True)
class RunInfo:
    """One run a schedule asks for: its logical date, data interval, and when it may start."""

    logical_date: datetime
    data_interval_start: datetime
    data_interval_end: datetime
    run_after: datetime


@dataclass(frozen=True)
class Bounds:
    """What limits a schedule: ``start_date``, ``end_date`` and ``catchup`` of the DAG."""

    earliest: datetime | None = None
    latest: datetime | None = None
    catchup: bool = False


class Timetable(Protocol):
    """Turns a schedule into runs."""

    @property
    def summary(self) -> str:
        """The schedule as written, for listings."""
        ...

    def next_run(self, last: RunInfo | None, bounds: Bounds, now: datetime) -> RunInfo | None:
        """The run after ``last`` (the latest scheduled run), or ``None`` when there is none."""
        ...

    def manual_interval(self, logical_date: datetime) -> tuple[datetime, datetime]:
        """The data interval of a run triggered by hand for ``logical_date``."""
        ...


def timetable_for(
    schedule: str | float | None, *, timezone: tzinfo | None = None
) -> Timetable | None:
    """Return the timetable of a serialized schedule; ``None`` for a manual-only DAG.

    Raises:
        DagDefinitionError: the schedule is not a valid cron expression or known preset.
    """
    if schedule is None:
        return None
    if isinstance(schedule, int | float):
        return DeltaTimetable(timedelta(seconds=schedule))
    if schedule == "@once":
        return OnceTimetable()
    expression = CRON_PRESETS.get(schedule, schedule)
    if schedule.startswith("@") and schedule not in CRON_PRESETS:
        known = ", ".join(["@once", *CRON_PRESETS])
        raise DagDefinitionError(f"schedule {schedule!r} is not a known preset: use one of {known}")
    if not croniter.is_valid(expression):
        raise DagDefinitionError(f"schedule {schedule!r} is not a valid cron expression")
    return CronTriggerTimetable(expression, timezone or UTC, summary=schedule)


@dataclass(frozen=True)
class OnceTimetable:
    """``@once``: one run, at ``start_date`` or when the DAG is first seen."""

    summary: str = "@once"

    def next_run(self, last: RunInfo | None, bounds: Bounds, now: datetime) -> RunInfo | None:
        """The single run, unless it exists or ``end_date`` is before it."""
        if last is not None:
            return None
        when = bounds.earliest or now
        if bounds.latest is not None and when > bounds.latest:
            return None
        return RunInfo(when, when, when, when)

    def manual_interval(self, logical_date: datetime) -> tuple[datetime, datetime]:
        """An empty interval at the logical date."""
        return logical_date, logical_date


@dataclass(frozen=True)
class DeltaTimetable:
    """A ``timedelta`` schedule: back-to-back data intervals, each run once it has ended."""

    delta: timedelta

    @property
    def summary(self) -> str:
        """The interval, e.g. ``every 1:00:00``."""
        return f"every {self.delta}"

    def next_run(self, last: RunInfo | None, bounds: Bounds, now: datetime) -> RunInfo | None:
        """The interval after ``last``; without catchup, no earlier than the one ending now."""
        earliest = bounds.earliest
        if not bounds.catchup:
            latest_start = now - self.delta
            earliest = latest_start if earliest is None else max(earliest, latest_start)
        if last is None:
            if earliest is None:
                return None
            start = earliest
        else:
            start = (
                last.data_interval_end
                if earliest is None
                else max(last.data_interval_end, earliest)
            )
        if bounds.latest is not None and start > bounds.latest:
            return None
        end = start + self.delta
        return RunInfo(start, start, end, end)

    def manual_interval(self, logical_date: datetime) -> tuple[datetime, datetime]:
        """The interval that ends at the logical date."""
        return logical_date - self.delta, logical_date


@dataclass(frozen=True)
class CronTriggerTimetable:
    """A cron schedule: a run at each cron point, with an empty data interval."""

    expression: str
    timezone: tzinfo
    summary: str

    def next_run(self, last: RunInfo | None, bounds: Bounds, now: datetime) -> RunInfo | None:
        """The cron point after ``last``; without catchup, no earlier than the latest past one."""
        if bounds.catchup:
            point = self._first(last, bounds, now)
        else:
            candidates = [self._align_prev(now)]
            if last is not None:
                candidates.append(self._after(last.logical_date))
            if bounds.earliest is not None:
                candidates.append(self._align_next(bounds.earliest))
            point = max(candidates)
        if bounds.latest is not None and point > bounds.latest:
            return None
        return RunInfo(point, point, point, point)

    def manual_interval(self, logical_date: datetime) -> tuple[datetime, datetime]:
        """An empty interval at the logical date."""
        return logical_date, logical_date

    def _first(self, last: RunInfo | None, bounds: Bounds, now: datetime) -> datetime:
        if last is not None:
            return self._after(last.logical_date)
        return self._align_next(bounds.earliest or now)

    def _after(self, moment: datetime) -> datetime:
        local = moment.astimezone(self.timezone)
        found: datetime = croniter(self.expression, local).get_next(datetime)
        return found.astimezone(UTC).replace(fold=0)

    def _before(self, moment: datetime) -> datetime:
        local = moment.astimezone(self.timezone)
        found: datetime = croniter(self.expression, local).get_prev(datetime)
        return found.astimezone(UTC).replace(fold=0)

    def _is_point(self, moment: datetime) -> bool:
        if moment.second or moment.microsecond:
            return False
        return bool(croniter.match(self.expression, moment.astimezone(self.timezone)))

    def _align_next(self, moment: datetime) -> datetime:
        return moment.astimezone(UTC) if self._is_point(moment) else self._after(moment)

    def _align_prev(self, moment: datetime) -> datetime:
        return moment.astimezone(UTC) if self._is_point(moment) else self._before(moment)
