"""The scheduler's loop: it waits for changes when idle and never spins when the database fails."""

from __future__ import annotations

import threading
import time

from airlock.db.changes import ChangeWatcher
from airlock.db.engine import create_db_engine, make_session_factory
from airlock.db.migrate import upgrade
from airlock.executors.local import LocalExecutor
from airlock.scheduling.scheduler import LoopReport, Scheduler
from airlock.server.auth import TokenSigner
from airlock.settings import Settings


def _scheduler(tmp_path, **settings) -> Scheduler:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'airlock.db'}")
    upgrade(engine)
    config = Settings(home=tmp_path, dags_folder=tmp_path / "dags", **settings)
    (tmp_path / "dags").mkdir()
    return Scheduler(
        config,
        make_session_factory(engine),
        signer=TokenSigner(b"k" * 64),
        executor=LocalExecutor(),
    )


class _Restless:
    def changed(self) -> bool:
        return True

    def close(self) -> None:
        pass


def _run_for(scheduler: Scheduler, seconds: float) -> None:
    stop = threading.Event()
    thread = threading.Thread(target=scheduler.run, args=(stop,))
    thread.start()
    time.sleep(seconds)
    stop.set()
    thread.join(10)
    assert not thread.is_alive()


def test_a_failing_loop_is_retried_after_the_loop_interval_not_at_once(tmp_path, monkeypatch):
    """While the database is away, the scheduler tries once per interval instead of spinning."""
    scheduler = _scheduler(tmp_path, scheduler_loop_interval=0.25)
    calls = []

    def failing_loop() -> LoopReport:
        calls.append(time.monotonic())
        raise ConnectionError("the database is away")

    monkeypatch.setattr(scheduler, "loop_once", failing_loop)
    # and the change watcher, unable to read the database either, keeps saying "changed"
    monkeypatch.setattr(ChangeWatcher, "for_engine", lambda _engine: ChangeWatcher(_Restless()))
    _run_for(scheduler, 1.0)
    assert 2 <= len(calls) <= 6


def test_an_idle_scheduler_waits_for_a_change_or_the_interval(tmp_path, monkeypatch):
    """With nothing to do and nothing changing, the scheduler loops once per interval."""
    scheduler = _scheduler(tmp_path, scheduler_loop_interval=0.25)
    calls = []

    def idle_loop() -> LoopReport:
        calls.append(time.monotonic())
        return LoopReport()

    monkeypatch.setattr(scheduler, "loop_once", idle_loop)
    _run_for(scheduler, 1.0)
    assert 2 <= len(calls) <= 7
