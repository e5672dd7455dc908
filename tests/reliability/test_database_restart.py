"""PostgreSQL restarted during a run: the API server and the scheduler reconnect, nothing is lost.

Real processes (``airlock api-server``, ``airlock scheduler``, ``airlock worker``) on a
PostgreSQL schema; the PostgreSQL server itself is restarted (``pg_ctlcluster ... restart -m
fast``, which cuts every connection) while tasks run. Runs only with ``--db postgres`` (the
PostgreSQL phase of ``scripts/test``), as root on a host whose cluster ``pg_ctlcluster`` manages.
PostgreSQL is always left running.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import pytest
from tests.conftest import POSTGRES_URL, require_service
from tests.reliability.deployed import wait_until

if TYPE_CHECKING:
    from collections.abc import Iterator

RUN_TIMEOUT = 90.0
DAG = """
RECORD = {record!r}

def note(kind, ti):
    line = {{"kind": kind, "task": ti.task_id, "try": ti.try_number, "pid": os.getpid(),
             "t": time.time()}}
    fd = os.open(RECORD, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.write(fd, (json.dumps(line) + "\\n").encode())
    os.close(fd)

with DAG("db_restart", max_active_tasks=16) as dag:
    @task
    def produce(n, **context):
        ti = context["ti"]
        note("start", ti)
        for step in range(20):  # 5 s, pushing an XCom every 0.25 s
            time.sleep(0.25)
            ti.xcom_push(key="step", value=step)
        note("end", ti)
        return n

    @task
    def combine(values):
        return sum(values)

    combine([produce.override(task_id=f"produce_{{n}}")(n) for n in range(6)])
"""


def _cluster() -> list[str]:
    """The ``pg_ctlcluster`` arguments naming the local cluster: version and ``main``."""
    versions = sorted(path.name for path in Path("/etc/postgresql").iterdir())
    return ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main"]


def _postgres_answers() -> bool:
    try:
        psycopg.connect(POSTGRES_URL, connect_timeout=2).close()
    except psycopg.OperationalError:
        return False
    return True


@pytest.fixture
def restartable_postgres(db_backend: str) -> Iterator[None]:
    """A local PostgreSQL cluster this test may restart; it is left running afterwards."""
    if db_backend != "postgres":
        pytest.skip("restarts the PostgreSQL server: run with --db postgres (SQLite has none)")
    manageable = (
        shutil.which("pg_ctlcluster") is not None
        and Path("/etc/postgresql").is_dir()
        and os.geteuid() == 0
    )
    require_service(manageable, "a local PostgreSQL cluster managed by pg_ctlcluster, as root")
    try:
        yield
    finally:
        _ensure_running()


def _ensure_running() -> None:
    """Start the cluster if it does not answer; wait until it does."""
    if not _postgres_answers():
        subprocess.run([*_cluster(), "start"], check=False, timeout=60)
    wait_until(_postgres_answers, "PostgreSQL to be running again", 60)


def _restart_postgres() -> float:
    """Restart the cluster, cutting every connection; return how long it was away."""
    started = time.monotonic()
    try:
        subprocess.run([*_cluster(), "restart", "-m", "fast"], check=True, timeout=60)
    finally:
        _ensure_running()
    return time.monotonic() - started


@pytest.mark.slow
@pytest.mark.usefixtures("restartable_postgres")
def test_a_postgres_restart_mid_run_loses_nothing(deployed, tmp_path):
    """PostgreSQL restarted while six tasks run: every task instance ends success, none stuck.

    The API server (pool_pre_ping; 503 while the database is away) and the scheduler (its
    loop survives errors) reconnect by themselves; supervisors wait out the 503s.
    """
    record = tmp_path / "record.jsonl"
    deployment = deployed(heartbeat_max_misses="16")  # 16 x 0.5 s: 8 s without the API
    deployment.write_dag(DAG.format(record=str(record)))
    deployment.start_api()
    deployment.start_scheduler()
    deployment.start_worker("worker", parallelism=8)
    deployment.trigger("db_restart")
    wait_until(lambda: _starts(record) >= 6, "the six producers to start", 60)

    time.sleep(1.0)
    restarted_at = time.time()
    away = _restart_postgres()
    wait_until(lambda: deployment.runs_finished("db_restart"), "the run to finish", RUN_TIMEOUT)

    assert deployment.run_states("db_restart") == ["success"]
    tis = deployment.tis("db_restart")
    assert len(tis) == 7
    assert {ti.state for ti in tis} == {"success"}
    values = {task: value for (_run, task), value in deployment.return_values("db_restart").items()}
    assert values == {**{f"produce_{n}": n for n in range(6)}, "combine": 15}
    events = [json.loads(line) for line in record.read_text().splitlines()]
    ran_through = [e for e in events if e["kind"] == "end" and e["t"] > restarted_at]
    retried = [ti.task_id for ti in tis if ti.try_number > 1]
    unavailable = deployment.log("api").read_text().count("the database is unavailable")
    print(
        f"PostgreSQL away {away:.1f}s; 7 task instances success ({len(retried)} retried), "
        f"{len(ran_through)} producers ran through the restart; API answered 503 "
        f"{unavailable} times"
    )


def _starts(record: Path) -> int:
    if not record.exists():
        return 0
    return sum(json.loads(line)["kind"] == "start" for line in record.read_text().splitlines())
