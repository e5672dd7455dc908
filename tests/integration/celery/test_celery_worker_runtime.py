"""The Celery executor's parts without a broker process: configuration, publishing, the worker.

The worker runtime is exercised with the real supervisor and runner processes against the
Execution API served in-process (``httpx.ASGITransport``) on SQLite.
"""

from __future__ import annotations

import argparse
import logging
import secrets
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx
import msgspec
import pytest

from airlock.api.models import TaskInstanceKey
from airlock.cli.celery_command import _queue_list
from airlock.db.engine import create_db_engine, make_session_factory
from airlock.db.migrate import upgrade
from airlock.exceptions import ConfigError
from airlock.execution.log_sink import log_relative_path
from airlock.execution.workload import ExecuteTask
from airlock.executors.celery_app import TASK_NAME, create_celery_app
from airlock.executors.celery_executor import CeleryExecutor, decode_workload, encode_workload
from airlock.executors.celery_runtime import RuntimeHolder, WorkerRuntime
from airlock.executors.celery_worker import node_name, run_workload
from airlock.local_run import choose_dag
from airlock.scheduling.dagrun_scheduler import schedule_dag_run
from airlock.scheduling.dagruns import create_dag_run
from airlock.scheduling.parsing import parse_dag_file
from airlock.server.app import create_app
from airlock.server.auth import TokenSigner
from airlock.settings import Settings

TOKEN = "eyJhbGciOiJIUzUxMiJ9.eyJzdWIiOiJ0aSJ9.c2lnbmF0dXJl"


def _workload(**changes: object) -> ExecuteTask:
    key = TaskInstanceKey(id="ti-1", dag_id="d", run_id="r", task_id="t", map_index=-1)
    fields = {"ti": key, "dag_file": "/dags/d.py", "token": TOKEN, "log_path": "d/t.log"}
    return ExecuteTask(**{**fields, **changes})  # type: ignore[arg-type]


def test_app_is_configured_for_late_acks_and_one_message_per_slot(tmp_path):
    """The Celery app acknowledges after the try, survives worker loss, and prefetches one."""
    settings = Settings(home=tmp_path, celery_visibility_timeout=900, heartbeat_timeout=300)
    conf = create_celery_app(settings).conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.broker_transport_options["visibility_timeout"] == 900
    assert conf.task_ignore_result is True
    assert conf.task_default_queue == "default"


def test_visibility_timeout_must_outlast_the_heartbeat_timeout(tmp_path):
    """A Redis visibility timeout not longer than the heartbeat timeout is refused, by name."""
    settings = Settings(home=tmp_path, celery_visibility_timeout=60, heartbeat_timeout=300)
    with pytest.raises(ConfigError, match="AIRLOCK_CELERY_VISIBILITY_TIMEOUT"):
        create_celery_app(settings)


def test_send_publishes_to_the_named_queue_and_hides_the_token(tmp_path):
    """A workload reaches the queue its task names; Celery's argument display shows no token."""
    executor = CeleryExecutor(Settings(home=tmp_path, celery_broker_url="memory://"))
    workload = _workload()
    try:
        executor.send(workload, queue="etl")
        with executor.app.connection_for_read() as connection:
            queue = connection.SimpleQueue("etl")
            message = queue.get(timeout=2)
            message.ack()
            queue.close()
    finally:
        executor.close()
    assert message.headers["task"] == TASK_NAME
    assert message.headers["argsrepr"] == repr(workload)
    assert TOKEN not in message.headers["argsrepr"]
    (payload,), _kwargs, _embed = msgspec.json.decode(message.body)
    assert decode_workload(payload) == workload


def test_workload_round_trips_through_its_message_text():
    """Encoding then decoding a workload gives it back unchanged."""
    workload = _workload(execution_timeout=2.5)
    assert decode_workload(encode_workload(workload)) == workload


def test_queue_list_and_node_name():
    """--queues takes a comma-separated list; a bare worker name gets this host appended."""
    assert _queue_list(" default, etl ,") == ("default", "etl")
    with pytest.raises(argparse.ArgumentTypeError, match="names no queue"):
        _queue_list(" , ")
    assert node_name("w1") == f"w1@{socket.gethostname()}"
    assert node_name("w1@box") == "w1@box"
    assert node_name(None).startswith("airlock-")


DAG = """
with DAG("pair", schedule=None) as dag:
    @task
    def first():
        return "one"

    @task
    def second():
        return "two"

    first()
    second()
"""


@pytest.fixture
def in_process(tmp_path, write_dag):
    """One queued run, its workloads, and a worker runtime whose API runs in-process."""
    settings = Settings(
        home=tmp_path / "home", heartbeat_interval=0.2, heartbeat_timeout=5, runner_start="exec"
    )
    engine = create_db_engine(f"sqlite:///{tmp_path / 'airlock.db'}")
    upgrade(engine)
    sessions = make_session_factory(engine)
    signer = TokenSigner(secrets.token_bytes(64))
    app = create_app(session_factory=sessions, signer=signer)
    path = write_dag(DAG)
    dag = choose_dag(parse_dag_file(path).dags, None, str(path))
    with sessions.begin() as session:
        run_id = create_dag_run(session, dag, logical_date=datetime.now(UTC)).run_id
        queued = schedule_dag_run(session, dag, run_id, now=datetime.now(UTC)).queued
    workloads = [
        ExecuteTask(
            ti=item.key,
            dag_file=dag.fileloc,
            token=signer.mint(item.key.id, scope="workload"),
            log_path=log_relative_path(dag.dag_id, run_id, item.key.task_id, -1, 1),
        )
        for item in queued
    ]
    transport = httpx.ASGITransport(app=app)
    runtime = WorkerRuntime(settings, api_url="http://airlock.invalid", transport=transport)
    yield runtime, workloads
    runtime.close()
    engine.dispose()


def test_runtime_runs_concurrent_workloads_from_several_threads(in_process):
    """Workloads handed over from several Celery pool threads at once all run to success."""
    runtime, workloads = in_process
    payloads = [encode_workload(workload) for workload in workloads]
    with ThreadPoolExecutor(max_workers=len(payloads)) as pool:
        results = list(
            pool.map(lambda p: run_workload(runtime, p, worker="w", redelivered=False), payloads)
        )
    assert [result["state"] for result in results] == ["success", "success"]
    assert {result["ti_id"] for result in results} == {w.ti.id for w in workloads}


def test_redelivered_workload_is_refused_quietly_and_never_runs_again(in_process, caplog):
    """A workload delivered again after its try ran is refused by /run, logged, and not raised."""
    runtime, workloads = in_process
    payload = encode_workload(workloads[0])
    assert run_workload(runtime, payload, worker="w", redelivered=False)["state"] == "success"
    with caplog.at_level(logging.INFO, logger="airlock.celery"):
        again = run_workload(runtime, payload, worker="w", redelivered=True)
    assert again["state"] is None
    assert "refused to start" in again["reason"]
    (record,) = [r for r in caplog.records if r.name == "airlock.celery"]
    assert record.levelno == logging.WARNING
    assert "(redelivered) ended with no state recorded" in record.getMessage()
    assert TOKEN not in record.getMessage()


def test_unreadable_message_is_dropped_without_echoing_it(in_process, caplog):
    """A message that is not a workload is logged and dropped; its text never reaches the log."""
    runtime, _ = in_process
    secret_looking = '{"token": "eyJnot-a-workload"}'
    with caplog.at_level(logging.INFO, logger="airlock.celery"):
        result = run_workload(runtime, secret_looking, worker="w", redelivered=False)
    assert "not an airlock workload" in result["error"]
    assert "eyJnot-a-workload" not in caplog.text


def test_holder_makes_one_runtime_per_process_and_closes_it():
    """The holder builds the runtime once, hands the same one out, and closes it at shutdown."""
    made: list[object] = []

    class FakeRuntime:
        closed = False

        def close(self) -> None:
            self.closed = True

    def factory() -> FakeRuntime:
        made.append(FakeRuntime())
        return made[-1]  # type: ignore[return-value]

    holder = RuntimeHolder(factory)  # type: ignore[arg-type]
    assert holder.get() is holder.get()
    holder.close()
    assert len(made) == 1
    assert made[0].closed  # type: ignore[attr-defined]


def test_worker_process_memory_is_kept_private():
    """The worker makes itself non-dumpable, so task code cannot read its /proc memory or env."""
    probe = (
        "import ctypes\n"
        "from airlock.executors.celery_worker import keep_memory_private\n"
        "assert keep_memory_private()\n"
        "print(ctypes.CDLL(None).prctl(3, 0, 0, 0, 0))\n"  # PR_GET_DUMPABLE
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, check=True)
    assert done.stdout.strip() == b"0"


def test_supervisor_failure_is_reported_not_raised(caplog):
    """If supervising fails unexpectedly, the task logs it and returns, so Celery never retries."""

    class BrokenRuntime:
        def run(self, _workload):
            raise RuntimeError("fork server gone")

    payload = encode_workload(_workload())
    with caplog.at_level(logging.INFO, logger="airlock.celery"):
        result = run_workload(BrokenRuntime(), payload, worker="w", redelivered=False)
    assert result == {"ti_id": "ti-1", "error": "RuntimeError: fork server gone"}
    assert "could not supervise ExecuteTask(d.t run=r try=1)" in caplog.text
    assert TOKEN not in caplog.text
