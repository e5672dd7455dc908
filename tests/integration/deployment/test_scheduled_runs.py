"""The scheduler creates runs from schedules, on a clock the test controls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airlock.scheduling.control import set_paused

D = datetime(2026, 3, 10, 12, 30, tzinfo=UTC)


def _dates(deployment, dag_id):
    return [run.logical_date for run in deployment.runs(dag_id)]


def _scheduled_dag(deployment, dag_id, schedule, **kwargs):
    args = ", ".join(f"{key}={value}" for key, value in kwargs.items())
    deployment.write_dag(
        f"""
        with DAG({dag_id!r}, schedule={schedule}, {args}) as dag:
            @task
            def work():
                return 1
            work()
        """,
        name=f"{dag_id}.py",
    )
    deployment.scan()


def test_catchup_creates_every_missed_cron_run_up_to_max_active_runs(deployment):
    """With catchup, missed @daily runs are created in order, at most max_active_runs at once."""
    _scheduled_dag(
        deployment,
        "daily",
        '"@daily"',
        start_date="datetime(2026, 3, 1)",
        catchup=True,
        max_active_runs=3,
    )
    deployment.clock.frozen = D
    deployment.loop()
    assert _dates(deployment, "daily") == [datetime(2026, 3, day, tzinfo=UTC) for day in (1, 2, 3)]
    first = deployment.runs("daily")[0]
    assert first.run_id == "scheduled__2026-03-01T00:00:00+00:00"
    assert first.run_type == "scheduled"
    assert first.data_interval_start == first.data_interval_end == first.logical_date


def test_without_catchup_only_the_latest_cron_point_runs(deployment):
    """Without catchup, only the most recent cron point gets a run, and the next comes when due."""
    _scheduled_dag(deployment, "hourly", '"0 * * * *"', start_date="datetime(2026, 1, 1)")
    deployment.clock.frozen = D
    deployment.loop()
    deployment.loop()
    assert _dates(deployment, "hourly") == [datetime(2026, 3, 10, 12, tzinfo=UTC)]
    deployment.clock.frozen = D + timedelta(minutes=31)
    deployment.loop()
    assert _dates(deployment, "hourly")[-1] == datetime(2026, 3, 10, 13, tzinfo=UTC)


def test_end_date_stops_the_schedule(deployment):
    """No run is created for a logical date after end_date."""
    _scheduled_dag(
        deployment,
        "bounded",
        '"@daily"',
        start_date="datetime(2026, 3, 1)",
        end_date="datetime(2026, 3, 2)",
        catchup=True,
    )
    deployment.clock.frozen = D
    deployment.loop()
    deployment.loop()
    assert _dates(deployment, "bounded") == [
        datetime(2026, 3, 1, tzinfo=UTC),
        datetime(2026, 3, 2, tzinfo=UTC),
    ]


def test_start_date_in_the_future_waits(deployment):
    """A DAG whose start_date is ahead of the clock gets its first run only once it is reached."""
    _scheduled_dag(deployment, "later", '"@hourly"', start_date="datetime(2026, 3, 11)")
    deployment.clock.frozen = D
    deployment.loop()
    assert _dates(deployment, "later") == []
    deployment.clock.frozen = datetime(2026, 3, 11, 0, 0, 1, tzinfo=UTC)
    deployment.loop()
    assert _dates(deployment, "later") == [datetime(2026, 3, 11, tzinfo=UTC)]


def test_timedelta_schedule_runs_each_interval_after_it_ends(deployment):
    """A timedelta schedule's run covers [start, start + delta) and is created once it ended."""
    _scheduled_dag(
        deployment,
        "every_6h",
        "timedelta(hours=6)",
        start_date="datetime(2026, 3, 10)",
        catchup=True,
    )
    deployment.clock.frozen = D
    deployment.loop()
    runs = deployment.runs("every_6h")
    assert [(r.data_interval_start.hour, r.data_interval_end.hour) for r in runs] == [
        (0, 6),
        (6, 12),
    ]
    assert all(r.logical_date == r.data_interval_start for r in runs)


def test_once_runs_a_single_time_and_none_never(deployment):
    """@once creates exactly one run; schedule=None creates none."""
    _scheduled_dag(deployment, "once", '"@once"', start_date="datetime(2026, 3, 1)")
    _scheduled_dag(deployment, "manual", "None", start_date="datetime(2026, 3, 1)")
    deployment.clock.frozen = D
    for _ in range(3):
        deployment.loop()
    assert _dates(deployment, "once") == [datetime(2026, 3, 1, tzinfo=UTC)]
    assert _dates(deployment, "manual") == []


def test_paused_dag_gets_no_runs_until_unpaused(deployment):
    """A paused DAG is not scheduled; unpausing it resumes its schedule."""
    _scheduled_dag(deployment, "paused", '"@daily"', start_date="datetime(2026, 3, 1)")
    with deployment.sessions.begin() as session:
        set_paused(session, "paused", paused=True)
    deployment.clock.frozen = D
    deployment.loop()
    assert _dates(deployment, "paused") == []
    with deployment.sessions.begin() as session:
        set_paused(session, "paused", paused=False)
    deployment.loop()
    assert _dates(deployment, "paused") == [datetime(2026, 3, 10, tzinfo=UTC)]


def test_scheduled_runs_execute_with_their_logical_dates(deployment):
    """Runs created by the schedule run their tasks, which see the run's logical date."""
    deployment.write_dag(
        """
        with DAG("dated", schedule="@daily", start_date=datetime(2026, 3, 8), catchup=True) as dag:
            @task
            def when(**context):
                return context["logical_date"].isoformat()
            when()
        """
    )
    deployment.scan()
    deployment.clock.frozen = D
    deployment.run_until(deployment.run_finished("dated"))
    runs = deployment.runs("dated")
    assert [run.state for run in runs] == ["success"] * 3
    assert [run.logical_date.day for run in runs] == [8, 9, 10]
