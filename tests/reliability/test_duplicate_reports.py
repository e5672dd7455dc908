"""A try's first terminal state is the one kept: a second or late report gets 409, end to end.

The runners here are real: task code reaches into its own channel to report an outcome before
the runner reports the task's real one, and a try is ended by the heartbeat-timeout reaper while
its runner still runs.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from tests.support import all_tries, by_task, read_log

from airlock.db.engine import create_db_engine, make_session_factory
from airlock.scheduling.timeouts import fail_lost_tries

if TYPE_CHECKING:
    from pathlib import Path

REPORT_FIRST = """
from airlock.execution.comms import get_channel
from airlock.execution.protocol import OKResponse, SucceedTask, TaskState

with DAG("reports") as dag:
    @task
    def succeed_twice():
        get_channel().call(SucceedTask(), OKResponse)

    @task
    def fail_then_succeed():
        get_channel().call(TaskState(state="failed", reason="first word"), OKResponse)
        return "too late"

    succeed_twice()
    fail_then_succeed()
"""


def test_a_second_report_is_refused_and_the_first_kept(write_dag, run_dag, fast_settings):
    """A runner that reports twice is refused the second time; the database keeps the first."""
    report = run_dag(write_dag(REPORT_FIRST))
    tis = by_task(report)
    assert tis["succeed_twice"].state == "success"
    assert tis["fail_then_succeed"].state == "failed"
    assert tis["fail_then_succeed"].reason == "first word"
    assert tis["fail_then_succeed"].return_value is None  # its late XCom was refused too
    assert [t[1] for t in all_tries(report)] == [1, 1]  # no retry, no second try
    twice = read_log(fast_settings, report, "succeed_twice")
    assert "SucceedTask refused: task instance" in twice
    assert "is success" in twice
    late = read_log(fast_settings, report, "fail_then_succeed")
    assert "SetXCom refused: task instance" in late
    assert "is failed" in late


LATE_DAG = """
with DAG("late") as dag:
    @task
    def slow():
        open({started!r}, "w").close()
        flag = {flag!r}
        while not os.path.exists(flag):
            time.sleep(0.05)
        print("finished after the reaper")  # returns None: its one report is SucceedTask

    slow()
"""


def _reap_when_running(url: str, started: Path, flag: Path, reaped: list[str]) -> None:
    """Act as the scheduler's heartbeat reaper once task code runs, then let the task finish."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not started.exists():
        time.sleep(0.05)
    engine = create_db_engine(url)
    sessions = make_session_factory(engine)
    try:
        later = datetime.now(UTC) + timedelta(hours=1)
        with sessions.begin() as session:
            reaped += [done.state for done in fail_lost_tries(session, later, 60)]
    finally:
        flag.touch()
        engine.dispose()


def test_a_late_report_after_the_reaper_failed_the_try_is_refused(
    write_dag, run_dag, fast_settings, tmp_path
):
    """A success reported after the heartbeat timeout failed the try is refused; failed stays."""
    started, flag = tmp_path / "started", tmp_path / "reaped"
    url = f"sqlite:///{tmp_path / 'late.db'}"
    # Heartbeats far apart: the runner's own late report, not a heartbeat, meets the 409.
    settings = replace(
        fast_settings,
        database_url=url,
        heartbeat_interval=30.0,
        heartbeat_max_misses=1,
        heartbeat_timeout=60.0,
    )
    reaped: list[str] = []
    reaper = threading.Thread(target=_reap_when_running, args=(url, started, flag, reaped))
    reaper.start()
    try:
        dag_file = write_dag(LATE_DAG.format(started=str(started), flag=str(flag)))
        report = run_dag(dag_file, settings=settings)
    finally:
        reaper.join()
    ti = by_task(report)["slow"]
    assert reaped == ["failed"]
    assert ti.state == "failed"
    assert ti.reason.startswith("no heartbeat for more than 60s")
    log = read_log(settings, report, "slow")
    assert "SucceedTask refused: task instance" in log
    assert "the API kept its own state: 409" in log
