"""Timetables: when runs are due, with which logical dates and data intervals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from airlock.exceptions import DagDefinitionError
from airlock.scheduling.timetables import Bounds, timetable_for

NOW = datetime(2026, 5, 20, 10, 15, tzinfo=UTC)


def _all(timetable, bounds, now=NOW, limit=10):
    runs, last = [], None
    while (info := timetable.next_run(last, bounds, now)) is not None and len(runs) < limit:
        if info.run_after > now:
            break
        runs.append(info)
        last = info
    return runs


def test_cron_catchup_walks_every_point_from_start_date():
    """With catchup, an hourly cron yields each hour from start_date up to now."""
    runs = _all(
        timetable_for("@hourly"), Bounds(earliest=NOW.replace(hour=7, minute=0), catchup=True)
    )
    assert [r.logical_date.hour for r in runs] == [7, 8, 9, 10]
    assert all(r.data_interval_start == r.data_interval_end == r.logical_date for r in runs)


def test_cron_without_catchup_starts_at_the_latest_point():
    """Without catchup, the first run is the latest cron point at or before now."""
    (run,) = _all(timetable_for("*/30 * * * *"), Bounds(earliest=datetime(2026, 1, 1, tzinfo=UTC)))
    assert run.logical_date == datetime(2026, 5, 20, 10, 0, tzinfo=UTC)


def test_cron_points_follow_the_start_date_s_time_zone():
    """A daily cron of a DAG whose start_date is in Paris triggers at Paris midnight."""
    paris = ZoneInfo("Europe/Paris")
    timetable = timetable_for("@daily", timezone=paris)
    bounds = Bounds(earliest=datetime(2026, 5, 18, tzinfo=paris), catchup=True)
    runs = _all(timetable, bounds)
    assert [r.logical_date for r in runs] == [
        datetime(2026, 5, day, 22, 0, tzinfo=UTC) for day in (17, 18, 19)
    ]


def test_delta_intervals_are_back_to_back_and_run_after_they_end():
    """A timedelta schedule covers [start, start+delta) intervals, each due at its end."""
    runs = _all(
        timetable_for(4 * 3600.0), Bounds(earliest=datetime(2026, 5, 20, tzinfo=UTC), catchup=True)
    )
    assert [(r.data_interval_start.hour, r.data_interval_end.hour) for r in runs] == [
        (0, 4),
        (4, 8),
    ]
    assert all(r.run_after == r.data_interval_end for r in runs)


def test_delta_without_catchup_runs_the_interval_that_just_ended():
    """Without catchup, a timedelta schedule's first interval ends now."""
    (run,) = _all(timetable_for(3600.0), Bounds(earliest=datetime(2026, 1, 1, tzinfo=UTC)))
    assert run.data_interval_end == NOW
    assert run.data_interval_start == NOW - timedelta(hours=1)


def test_manual_intervals():
    """A manual run's data interval: empty for cron, the delta before it for a timedelta."""
    when = datetime(2026, 5, 20, 12, tzinfo=UTC)
    assert timetable_for("@daily").manual_interval(when) == (when, when)
    assert timetable_for(60.0).manual_interval(when) == (when - timedelta(minutes=1), when)


def test_none_is_manual_only_and_once_runs_once():
    """schedule=None has no timetable; @once gives a single run at start_date."""
    assert timetable_for(None) is None
    start = datetime(2026, 5, 1, tzinfo=UTC)
    (run,) = _all(timetable_for("@once"), Bounds(earliest=start))
    assert run.logical_date == start


@pytest.mark.parametrize(
    ("schedule", "message"),
    [("61 * * * *", "not a valid cron"), ("@fortnightly", "not a known preset")],
)
def test_invalid_schedules_are_refused_with_the_schedule(schedule, message):
    """A wrong cron expression or preset is refused, naming it."""
    with pytest.raises(DagDefinitionError, match=message):
        timetable_for(schedule)
