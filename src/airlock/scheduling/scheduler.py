"""The scheduler service (``airlock scheduler``): DAG files in, queued tries out.

One loop (:meth:`Scheduler.loop_once`), repeated at once while loops find work, then on the
next change in the database (:mod:`airlock.db.changes`) or after ``scheduler_loop_interval``:

1. create the runs that schedules ask for (:mod:`~airlock.scheduling.run_creation`);
2. run a scheduling pass over every active run of an unpaused DAG (trigger rules, retries,
   admission through pools and concurrency limits, run state), each in its own transaction with
   the run's row locked ``FOR UPDATE SKIP LOCKED`` (another scheduler busy with that run is
   skipped, not waited for); a queued run starts only while the DAG has fewer than
   ``max_active_runs`` running;
3. after the pass committed, hand each queued try to the executor with a freshly minted
   workload token;
4. end the tries whose heartbeat stopped and requeue those queued for too long
   (:mod:`~airlock.scheduling.timeouts`).

A separate thread scans the DAGs folder every ``parsing_interval``
(:class:`~airlock.scheduling.dag_processor.DagFolderProcessor`). Time comes from ``clock``, so
tests drive schedules with a clock of their own. Any number of schedulers may run against one
PostgreSQL database.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite

from airlock.db.changes import ChangeWatcher
from airlock.db.models import DagModel, DagRun, Pool
from airlock.execution.workload import ExecuteTask, workload_for
from airlock.scheduling.dag_processor import DagFolderProcessor
from airlock.scheduling.dag_store import load_dag
from airlock.scheduling.dagrun_scheduler import schedule_dag_run
from airlock.scheduling.run_creation import ACTIVE_RUN_STATES, create_scheduled_runs
from airlock.scheduling.timeouts import fail_lost_tries, requeue_stuck_tries
from airlock.states import DagRunState

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.orm import Session, sessionmaker

    from airlock.definitions.serialized import SerializedDag
    from airlock.executors.base import Executor
    from airlock.scheduling.dagrun_scheduler import QueuedTry
    from airlock.scheduling.run_creation import CreatedRun
    from airlock.scheduling.timeouts import TimedOut
    from airlock.server.auth import TokenSigner
    from airlock.settings import Settings

log = logging.getLogger("airlock.scheduler")

DEFAULT_POOL = "default_pool"
_STOP_CHECK_INTERVAL = 0.2
_MAX_REST = 0.25
_FREE_LOOP = 0.005
_REST_FACTOR = 10.0


def _rest_after(loop_seconds: float) -> float:
    """How long the scheduler rests after a loop that took ``loop_seconds`` of CPU time.

    Loops up to ``_FREE_LOOP`` of CPU (a small run's pass takes a millisecond or two) cost no
    rest, so chains move at once. Beyond that the scheduler rests ``_REST_FACTOR`` times the
    excess: while tries of a large run finish by the hundred it uses a small share of a core,
    and each pass takes in many changes at once (a 500-task stream on 2 cores: 68 -> ~90
    tasks/s, scheduler CPU per task 4.2 -> 1.5 ms, against no rest; chains unchanged).
    """
    return min(max(0.0, loop_seconds - _FREE_LOOP) * _REST_FACTOR, _MAX_REST)


def utc_now() -> datetime:
    """The current time, in UTC."""
    return datetime.now(UTC)


@dataclass
class LoopReport:
    """What one scheduler loop did."""

    created: list[CreatedRun] = field(default_factory=list)
    sent: list[ExecuteTask] = field(default_factory=list)
    timed_out: list[TimedOut] = field(default_factory=list)
    finished_runs: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def busy(self) -> bool:
        """Whether the loop changed anything (so another loop soon is worthwhile)."""
        return bool(self.created or self.sent or self.timed_out or self.finished_runs)


class Scheduler:
    """Creates runs, schedules their task instances and hands queued tries to an executor.

    Args:
        settings: loop interval, timeouts, DAGs folder, parsing options, default pool size.
        sessions: opens database sessions.
        signer: mints the workload tokens of queued tries.
        executor: where queued tries go.
        clock: the current time; tests pass a controllable one.
    """

    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        *,
        signer: TokenSigner,
        executor: Executor,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.signer = signer
        self.executor = executor
        self.clock = clock
        self.processor = DagFolderProcessor(
            settings.dags_folder,
            sessions,
            timeout=settings.parsing_timeout,
            processes=settings.parsing_processes,
            clock=clock,
        )

    def ensure_default_pool(self) -> None:
        """Create ``default_pool`` with ``default_pool_slots`` slots unless it exists."""
        with self.sessions.begin() as session:
            dialect = session.get_bind().dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            values = {
                "name": DEFAULT_POOL,
                "slots": self.settings.default_pool_slots,
                "description": "the pool of every task that names no other",
            }
            session.execute(insert(Pool).values(values).on_conflict_do_nothing())

    def loop_once(self) -> LoopReport:
        """Run one loop: create due runs, schedule active runs, send, handle timeouts."""
        now = self.clock()
        report = LoopReport(created=create_scheduled_runs(self.sessions, now))
        for run_id in self._active_run_ids():
            self._schedule_run(run_id, now, report)
        with self.sessions.begin() as session:
            report.timed_out += fail_lost_tries(session, now, self.settings.heartbeat_timeout)
            report.timed_out += requeue_stuck_tries(session, now, self.settings.queued_timeout)
        for timed_out in report.timed_out:
            log.warning(
                "task instance %s.%s: %s", timed_out.dag_id, timed_out.task_id, timed_out.reason
            )
        return report

    def run(self, stop: threading.Event) -> None:
        """Loop until ``stop`` is set, scanning the DAGs folder in a thread of its own.

        Between loops that changed nothing, the scheduler waits for the database to change (a
        run triggered, a try reported: see :mod:`airlock.db.changes`) or for
        ``scheduler_loop_interval`` to pass, whichever comes first.
        """
        self.ensure_default_pool()
        parser = threading.Thread(target=self._parse_forever, args=(stop,), name="airlock-dags")
        parser.start()
        changes = ChangeWatcher.for_engine(self.sessions.kw["bind"])
        try:
            while not stop.is_set():
                changes.changed()  # what this loop sees needs no second look
                started = time.thread_time()  # CPU time: waiting for a lock is no reason to rest
                report = self._safe_loop()
                if report is None:  # the database is away: try again after a full interval
                    stop.wait(self.settings.scheduler_loop_interval)
                    continue
                stop.wait(_rest_after(time.thread_time() - started))
                if not report.busy:
                    self._idle(stop, changes)
        finally:
            stop.set()
            changes.close()
            parser.join()
            self.executor.close()

    def _idle(self, stop: threading.Event, changes: ChangeWatcher) -> None:
        deadline = time.monotonic() + self.settings.scheduler_loop_interval
        while not stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0 or changes.wait(min(remaining, _STOP_CHECK_INTERVAL)):
                return

    def _safe_loop(self) -> LoopReport | None:
        try:
            return self.loop_once()
        except Exception:  # a database hiccup must not end the service: log and loop again
            log.exception("scheduler loop failed; retrying")
            return None

    def _parse_forever(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.processor.scan()
            except Exception:  # the next scan tries again
                log.exception("scanning the DAGs folder %s failed", self.settings.dags_folder)
            stop.wait(self.settings.parsing_interval)

    def _active_run_ids(self) -> list[int]:
        with self.sessions() as session:
            query = (
                select(DagRun.id)
                .join(DagModel, DagModel.dag_id == DagRun.dag_id)
                .where(DagRun.state.in_(ACTIVE_RUN_STATES), DagModel.is_paused.is_(False))
                .order_by(DagRun.state.desc(), DagRun.logical_date, DagRun.id)
            )
            return list(session.scalars(query))

    def _schedule_run(self, run_pk: int, now: datetime, report: LoopReport) -> None:
        queued: list[QueuedTry] = []
        with self.sessions.begin() as session:
            run = session.scalars(
                select(DagRun)
                .where(DagRun.id == run_pk, DagRun.state.in_(ACTIVE_RUN_STATES))
                .with_for_update(skip_locked=True)
            ).one_or_none()
            dag = load_dag(session, run.dag_id) if run is not None else None
            if run is None or dag is None or not self._may_run(session, run, dag):
                return
            result = schedule_dag_run(session, dag, run.run_id, now=now)
            queued = result.queued
            if result.run_state in (DagRunState.SUCCESS, DagRunState.FAILED):
                report.finished_runs.append((dag.dag_id, run.run_id, result.run_state))
        for item in queued:
            workload = self._workload(item, dag)
            self.executor.send(workload, queue=item.queue)
            report.sent.append(workload)

    def _may_run(self, session: Session, run: DagRun, dag: SerializedDag) -> bool:
        if run.state != DagRunState.QUEUED:
            return True
        session.execute(
            select(DagModel.dag_id).where(DagModel.dag_id == dag.dag_id).with_for_update()
        )
        running = session.scalar(
            select(func.count()).where(
                DagRun.dag_id == dag.dag_id, DagRun.state == DagRunState.RUNNING
            )
        )
        return int(running or 0) < dag.max_active_runs

    def _workload(self, item: QueuedTry, dag: SerializedDag) -> ExecuteTask:
        return workload_for(item.key, dag, self.signer.mint(item.key.id, scope="workload"))
