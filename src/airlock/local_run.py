"""Running one DAG end to end on this machine: what ``airlock dags test`` does.

Every task instance goes the production way: the DAG file is parsed in its own process, the
run and its task instances live in a real database (a fresh SQLite file unless
``AIRLOCK_DATABASE_URL`` names one), each try runs in its own runner process under the
supervisor, and every state change goes through the Execution API with a per-try token. The
API runs in-process through ``httpx.ASGITransport`` (same routes, auth and database, no port),
or on a loopback port over real HTTP with ``api="http"``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import httpx
import msgspec
from sqlalchemy import select

from airlock import compat
from airlock.api.client import ExecutionApiClient
from airlock.db.engine import create_db_engine, make_session_factory
from airlock.db.migrate import upgrade
from airlock.db.models import DagRun, TaskInstance, XCom
from airlock.exceptions import DagFileError
from airlock.execution import event_loop
from airlock.execution.dag_callbacks import run_dag_callbacks
from airlock.execution.forkserver_client import ForkServerLauncher
from airlock.execution.process import ExecLauncher
from airlock.execution.supervisor import Supervisor, TaskEvent
from airlock.execution.workload import workload_for
from airlock.scheduling.dagrun_scheduler import SchedulingPass, schedule_dag_run
from airlock.scheduling.dagruns import create_dag_run
from airlock.scheduling.parsing import parse_dag_file
from airlock.server.app import create_app
from airlock.server.auth import TokenSigner
from airlock.server.embedded import EmbeddedServer
from airlock.server.transitions import dag_run_info
from airlock.states import FINISHED_RUN_STATES, DagRunState

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from airlock.api.models import DagRunInfo
    from airlock.definitions.serialized import SerializedDag
    from airlock.execution.process import RunnerLauncher
    from airlock.scheduling.dagrun_scheduler import QueuedTry
    from airlock.settings import Settings

ApiMode = Literal["in-process", "http"]


@dataclass(frozen=True)
class TaskInstanceReport:
    """How one task instance ended."""

    task_id: str
    map_index: int
    state: str | None
    try_number: int
    duration: float | None
    return_value: Any
    reason: str | None


@dataclass(frozen=True)
class RunReport:
    """How a DAG run ended: the machine-readable result of ``airlock dags test``."""

    dag_id: str
    run_id: str
    state: str
    task_instances: list[TaskInstanceReport]
    duration: float
    database_url: str

    @property
    def succeeded(self) -> bool:
        """Whether the run succeeded."""
        return self.state == "success"

    def to_json(self) -> dict[str, Any]:
        """The report as written by ``--json``."""
        return {
            "dag_id": self.dag_id,
            "run_id": self.run_id,
            "state": self.state,
            "task_instances": [
                {
                    "task_id": ti.task_id,
                    "map_index": ti.map_index,
                    "state": ti.state,
                    "try_number": ti.try_number,
                    "return_value": ti.return_value,
                }
                for ti in self.task_instances
            ],
        }


@dataclass(frozen=True)
class StateChange:
    """A task instance moved to a new state (for progress displays)."""

    task_id: str
    map_index: int
    state: str | None
    try_number: int
    reason: str | None = None


@dataclass
class LocalRunOptions:
    """What to run and how."""

    dag_file: Path
    dag_id: str | None = None
    logical_date: datetime | None = None
    conf: dict[str, Any] = field(default_factory=dict)
    parallelism: int = field(default_factory=lambda: os.cpu_count() or 2)
    api: ApiMode = "in-process"
    compat: str | None = None
    """``"airflow"``: parse and run the file through the Airflow import shim."""


def choose_dag(dags: tuple[SerializedDag, ...], dag_id: str | None, path: str) -> SerializedDag:
    """Pick the DAG to run from those a file defines."""
    if not dags:
        raise DagFileError(path, None, "the file defines no DAG")
    ids = [dag.dag_id for dag in dags]
    if dag_id is None:
        if len(dags) > 1:
            raise DagFileError(path, None, f"the file defines several DAGs {ids}: pick one")
        return dags[0]
    for dag in dags:
        if dag.dag_id == dag_id:
            return dag
    raise DagFileError(path, None, f"the file defines no DAG {dag_id!r}; it defines {ids}")


class LocalDagRun:
    """One DAG run, scheduled and executed on this machine through the real two-process path."""

    def __init__(
        self,
        options: LocalRunOptions,
        settings: Settings,
        *,
        on_change: Callable[[StateChange], None] | None = None,
    ) -> None:
        self.options = options
        self.settings = settings
        self._on_change = on_change or (lambda _change: None)
        self._known: dict[tuple[str, int], tuple[str | None, int]] = {}

    def run(self) -> RunReport:
        """Parse, run and report; raises ``DagFileError`` if the DAG file cannot be used."""
        return event_loop.run(self.run_async())

    async def run_async(self) -> RunReport:
        """The same as ``run``, inside a running event loop."""
        started = asyncio.get_running_loop().time()
        path = str(self.options.dag_file.resolve())
        compat.check(self.options.compat)
        parsed = await asyncio.to_thread(
            functools.partial(
                parse_dag_file,
                path,
                compat=self.options.compat,
                timeout=self.settings.parsing_timeout,
            )
        )
        if parsed.error is not None:
            err = parsed.error
            raise DagFileError(err.path, err.line, err.message)
        dag = choose_dag(parsed.dags, self.options.dag_id, path)
        url = self.settings.database_url or _fresh_sqlite_url(self.settings.home, dag.dag_id)
        engine = create_db_engine(url)
        try:
            await asyncio.to_thread(_migrate, engine)
            sessions = make_session_factory(engine)
            run_id = await asyncio.to_thread(self._create_run, sessions, dag)
            signer = TokenSigner(
                secrets.token_bytes(64),
                execution_lifetime=self.settings.token_lifetime,
                workload_lifetime=self.settings.workload_token_lifetime,
            )
            app = create_app(
                session_factory=sessions, signer=signer, xcom_max_bytes=self.settings.xcom_max_bytes
            )
            with _api_endpoint(app, self.options.api) as (base_url, transport):
                client = ExecutionApiClient(
                    base_url,
                    transport=transport,
                    timeout=self.settings.api_timeout,
                    retries=self.settings.api_retries,
                )
                try:
                    loop = _RunLoop(
                        self, dag, run_id, sessions=sessions, signer=signer, client=client
                    )
                    await loop.run()
                finally:
                    await client.aclose()
            duration = asyncio.get_running_loop().time() - started
            return await asyncio.to_thread(self._report, sessions, dag, run_id, duration, url)
        finally:
            engine.dispose()

    def _create_run(self, sessions: sessionmaker[Session], dag: SerializedDag) -> str:
        logical_date = self.options.logical_date or datetime.now(UTC)
        with sessions.begin() as session:
            run = create_dag_run(session, dag, logical_date=logical_date, conf=self.options.conf)
            return run.run_id

    def observe(self, changes: list[StateChange]) -> None:
        """Report the changes not seen before to the progress listener."""
        for change in changes:
            key = (change.task_id, change.map_index)
            seen = (change.state, change.try_number)
            if self._known.get(key) != seen:
                self._known[key] = seen
                self._on_change(change)

    def _report(
        self,
        sessions: sessionmaker[Session],
        dag: SerializedDag,
        run_id: str,
        duration: float,
        url: str,
    ) -> RunReport:
        with sessions() as session:
            run = session.scalars(
                select(DagRun).where(DagRun.dag_id == dag.dag_id, DagRun.run_id == run_id)
            ).one()
            tis = _run_task_instances(session, dag.dag_id, run_id)
            values = _return_values(session, dag.dag_id, run_id)
        order = {task.task_id: i for i, task in enumerate(dag.tasks)}
        tis.sort(key=lambda ti: (order.get(ti.task_id, 0), ti.map_index))
        reports = [
            TaskInstanceReport(
                task_id=ti.task_id,
                map_index=ti.map_index,
                state=ti.state,
                try_number=ti.try_number,
                duration=_duration(ti),
                return_value=values.get((ti.task_id, ti.map_index)),
                reason=ti.failure_reason,
            )
            for ti in tis
        ]
        return RunReport(dag.dag_id, run_id, run.state, reports, duration, url)


class _RunLoop:
    """Alternates scheduling passes and supervised tries until the run is finished."""

    def __init__(
        self,
        owner: LocalDagRun,
        dag: SerializedDag,
        run_id: str,
        *,
        sessions: sessionmaker[Session],
        signer: TokenSigner,
        client: ExecutionApiClient,
    ) -> None:
        self.owner = owner
        self.dag = dag
        self.run_id = run_id
        self.sessions = sessions
        self.signer = signer
        self.supervisor = Supervisor(
            client,
            owner.settings,
            on_event=self._on_event,
            launcher=_compat_launcher(owner.settings, owner.options.compat),
        )
        self.running: set[asyncio.Task[object]] = set()
        self.errors: list[BaseException] = []
        self.wake = asyncio.Event()

    async def run(self) -> None:
        try:
            while True:
                self.wake.clear()  # before the pass: a try ending during it must wake us
                result = await asyncio.to_thread(self._pass)
                for queued in result.queued:
                    self._start(queued)
                if result.run_state in FINISHED_RUN_STATES and not self.running:
                    await self._dag_callbacks(result.run_state)
                    return
                await self._wait(result)
                if self.errors:
                    raise self.errors[0]
        finally:
            for task in self.running:
                task.cancel()
            await asyncio.gather(*self.running, return_exceptions=True)
            await self.supervisor.aclose()

    async def _dag_callbacks(self, run_state: str) -> None:
        """Run the DAG's success or failure callbacks in their own process, if it has any."""
        failed = run_state == DagRunState.FAILED
        if not (self.dag.has_on_failure_callback if failed else self.dag.has_on_success_callback):
            return
        info = await asyncio.to_thread(self._run_info)
        await run_dag_callbacks(
            dag_file=self.dag.fileloc,
            run=info,
            failed=failed,
            logs_folder=self.owner.settings.logs_folder,
        )

    def _run_info(self) -> DagRunInfo:
        with self.sessions() as session:
            run = session.scalars(
                select(DagRun).where(DagRun.dag_id == self.dag.dag_id, DagRun.run_id == self.run_id)
            ).one()
            return dag_run_info(run)

    def _pass(self) -> SchedulingPass:
        limit = max(0, self.owner.options.parallelism - len(self.running))
        with self.sessions.begin() as session:
            now = datetime.now(UTC)
            result = schedule_dag_run(
                session,
                self.dag,
                self.run_id,
                now=now,
                limit=limit,
                max_map_length=self.owner.settings.max_map_length,
            )
            changes = [
                StateChange(ti.task_id, ti.map_index, ti.state, ti.try_number)
                for ti in _run_task_instances(session, self.dag.dag_id, self.run_id)
            ]
        self.owner.observe(changes)
        return result

    def _start(self, queued: QueuedTry) -> None:
        key = queued.key
        workload = workload_for(key, self.dag, self.signer.mint(key.id, scope="workload"))
        task: asyncio.Task[object] = asyncio.create_task(self.supervisor.run(workload))
        self.running.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[object]) -> None:
        self.running.discard(task)
        self.wake.set()
        if not task.cancelled() and (error := task.exception()) is not None:
            self.errors.append(error)

    def _on_event(self, event: TaskEvent) -> None:
        ti = event.ti
        if event.kind == "reported":
            self.wake.set()  # downstream tasks may start while this runner exits
        if event.kind == "running":
            change = StateChange(ti.task_id, ti.map_index, "running", ti.try_number)
            self.owner.observe([change])
        elif event.state is not None:
            change = StateChange(ti.task_id, ti.map_index, event.state, ti.try_number, event.reason)
            self.owner.observe([change])

    async def _wait(self, result: SchedulingPass) -> None:
        timeout = None
        if result.next_retry_at is not None:
            timeout = max(0.0, (result.next_retry_at - datetime.now(UTC)).total_seconds())
        elif not self.running and not result.queued and not self.wake.is_set():
            raise RuntimeError(
                f"DAG run {self.run_id} cannot make progress: nothing is running or due; "
                "this is a bug in airlock's scheduling, please report it"
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wake.wait(), timeout)


@contextlib.contextmanager
def _api_endpoint(app: Any, mode: ApiMode) -> Iterator[tuple[str, httpx.AsyncBaseTransport | None]]:
    if mode == "in-process":
        yield "http://airlock.invalid", httpx.ASGITransport(app=app)
        return
    server = EmbeddedServer(app)
    base_url = server.start()
    try:
        yield base_url, None
    finally:
        server.stop()


def _compat_launcher(settings: Settings, mode: str | None) -> RunnerLauncher | None:
    """The runner launcher of a ``--compat`` run (runners get ``AIRLOCK_COMPAT``); else None."""
    if not mode:
        return None
    env = {**os.environ, compat.COMPAT_ENV: mode}
    if settings.runner_start == "exec":
        return ExecLauncher(env)
    return ForkServerLauncher(
        env,
        preload_dag_files=settings.preload_dag_files,
        preload_timeout=settings.parsing_timeout,
    )


_MIGRATIONS = threading.Lock()


def _migrate(engine: Engine) -> None:
    """Migrate ``engine``'s database; one at a time, as Alembic keeps process-wide state."""
    with _MIGRATIONS:
        upgrade(engine)


def _fresh_sqlite_url(home: Path, dag_id: str) -> str:
    folder = home / "dags-test"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    return f"sqlite:///{folder / f'{dag_id}-{stamp}.db'}"


def _run_task_instances(session: Session, dag_id: str, run_id: str) -> list[TaskInstance]:
    query = select(TaskInstance).where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
    return list(session.scalars(query))


def _return_values(session: Session, dag_id: str, run_id: str) -> dict[tuple[str, int], Any]:
    query = select(XCom.task_id, XCom.map_index, XCom.value).where(
        XCom.dag_id == dag_id, XCom.run_id == run_id, XCom.key == "return_value"
    )
    return {(t, m): msgspec.json.decode(v) for t, m, v in session.execute(query)}


def _duration(ti: TaskInstance) -> float | None:
    if ti.start_date is None or ti.end_date is None:
        return None
    return (ti.end_date - ti.start_date).total_seconds()
