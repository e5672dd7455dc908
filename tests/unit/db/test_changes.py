"""The change watcher notices another process's commits within milliseconds, on both backends."""

import asyncio
import time

from sqlalchemy import text

from airlock.db import migrate
from airlock.db.changes import ChangeWatcher, _UnavailableError


def _insert_run(engine, run_id: str) -> None:
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO dag_run (dag_id, run_id, run_type, state, conf, created_at)"
                " VALUES ('d', :run_id, 'manual', 'queued', '{}', CURRENT_TIMESTAMP)"
            ),
            {"run_id": run_id},
        )


def _heartbeat_like_write(engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO variable (key, value) VALUES ('k', 'v')"))


def _watcher_sees_commits(engine) -> None:
    migrate.upgrade(engine)
    watcher = ChangeWatcher.for_engine(engine, poll_interval=0.001)
    try:
        assert watcher.changed()  # the first look: nothing is known yet
        assert not watcher.changed()
        assert not watcher.wait(0.05)
        _insert_run(engine, "r1")
        started = time.monotonic()
        assert watcher.wait(5)
        assert time.monotonic() - started < 0.5
        assert not watcher.changed()
    finally:
        watcher.close()


def test_sqlite_commits_of_another_connection_are_seen(engine):
    """On SQLite, a commit by another connection shows in ``data_version`` at once."""
    _watcher_sees_commits(engine)


def test_postgresql_state_changes_are_notified(postgres_engine):
    """On PostgreSQL, the triggers of migration 0002 notify inserted and re-stated runs."""
    _watcher_sees_commits(postgres_engine)
    watcher = ChangeWatcher.for_engine(postgres_engine, poll_interval=0.001)
    try:
        watcher.changed()
        _heartbeat_like_write(postgres_engine)  # a table nobody waits on: no notification
        assert not watcher.wait(0.2)
        with postgres_engine.begin() as connection:
            connection.execute(text("UPDATE dag_run SET state = 'running' WHERE run_id = 'r1'"))
        assert watcher.wait(5)
    finally:
        watcher.close()


def test_postgresql_watcher_reconnects_and_reports_a_change(postgres_engine):
    """A lost connection counts as a change (the caller looks itself), then is reopened."""
    migrate.upgrade(postgres_engine)
    watcher = ChangeWatcher.for_engine(postgres_engine, poll_interval=0.001)
    try:
        watcher.changed()
        with postgres_engine.begin() as connection:
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE query LIKE 'LISTEN airlock_changes%' AND pid <> pg_backend_pid()"
                )
            )
        assert watcher.wait(5)  # the broken connection: one "change"
        started = time.monotonic()
        assert watcher.wait(5)  # reconnected a second later: unknown meanwhile, so "changed"
        assert time.monotonic() - started > 0.5
        assert not watcher.changed()
        _insert_run(postgres_engine, "r2")
        assert watcher.wait(5)
    finally:
        watcher.close()


class _BrokenSource:
    def __init__(self) -> None:
        self.calls = 0

    def changed(self) -> bool:
        self.calls += 1
        raise _UnavailableError

    def close(self) -> None:
        pass


def test_an_unreadable_database_counts_once_then_is_retried_a_second_later():
    """A database that is down does not make waiters spin: one change, then a pause."""
    source = _BrokenSource()
    watcher = ChangeWatcher(source, poll_interval=0.001)
    assert watcher.changed()
    assert not watcher.wait(0.3)
    assert source.calls == 1
    assert watcher.wait(2)
    assert source.calls == 2


def test_wait_async_returns_on_a_change(engine):
    """The event-loop variant returns as soon as the change is committed."""
    migrate.upgrade(engine)
    watcher = ChangeWatcher.for_engine(engine, poll_interval=0.001)

    async def scenario() -> bool:
        watcher.changed()
        loop = asyncio.get_running_loop()
        loop.call_later(0.05, _insert_run, engine, "r1")
        return await watcher.wait_async(5)

    try:
        assert asyncio.run(scenario())
    finally:
        watcher.close()
