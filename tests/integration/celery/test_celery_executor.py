"""The Celery executor end to end: API server, Celery workers and broker in separate processes."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from tests.integration.celery.celery_harness import processes_of, worker_refusals, worker_runs
from tests.support import JWT_SCAN

from airlock.states import TaskInstanceState

if TYPE_CHECKING:
    from tests.integration.celery.celery_harness import Deployment

pytestmark = pytest.mark.slow

FANOUT_DAG = """
with DAG("fanout", schedule=None, max_active_tasks=%(active)d) as dag:
    for i in range(%(count)d):
        @task(task_id=f"t{i:03d}", queue=%(queue)r if i %% 5 else %(other)r)
        def work():
            time.sleep(0.02)
            return os.getpid()
        work()
"""

SLOW_DAG = """
import fcntl
from airlock import get_current_context

MARKS = %(marks)r

def mark(what):
    with open(MARKS, "a") as marks:
        marks.write(f"{what} {get_current_context()['ti'].try_number} {os.getpid()}\\n")

with DAG("slow", schedule=None) as dag:
    @task(queue=%(queue)r, retries=1, retry_delay=timedelta(seconds=0))
    def slow():
        lock = open(MARKS + ".lock", "a")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            mark("overlap")
            raise
        mark("start")
        try_number = get_current_context()["ti"].try_number
        time.sleep(%(first)d if try_number == 1 else 1)
        mark("end")

    slow()
"""


def _run(deployed: Deployment, dag_id: str, *, timeout: float) -> tuple[str, float]:
    run_id = deployed.trigger(dag_id)
    started = time.perf_counter()
    state = deployed.wait_for_run(run_id, timeout)
    return run_id, time.perf_counter() - started if state == "success" else -1.0


def _assert_all_succeeded_once(deployed: Deployment, run_id: str, count: int) -> None:
    tis = deployed.task_instances(run_id)
    assert deployed.run_state(run_id) == "success"
    assert len(tis) == count
    assert {ti.state for ti in tis.values()} == {TaskInstanceState.SUCCESS}
    assert {ti.try_number for ti in tis.values()} == {1}
    assert deployed.history(run_id) == []


def test_two_workers_share_a_200_task_dag(write_dag, deployment, queue, capsys):
    """A 200-task DAG completes on two Celery workers over Redis, each running a share of it."""
    deployed = deployment("redis")
    logs = deployed.start("w1", "w2")
    write_dag(FANOUT_DAG % {"active": 64, "count": 200, "queue": queue, "other": queue})

    run_id, elapsed = _run(deployed, "fanout", timeout=100)

    _assert_all_succeeded_once(deployed, run_id, 200)
    runs = [len(worker_runs(log)) for log in logs.values()]
    assert sum(runs) == 200, runs
    assert min(runs) >= 40, f"the load was not shared: {runs}"
    with capsys.disabled():
        print(f"\n200-task DAG on 2 Celery workers (Redis): {elapsed:.2f}s, per worker {runs}")


def test_queues_route_tasks_over_rabbitmq(write_dag, deployment, queue):
    """Over RabbitMQ, tasks with queue='etl' run only on the worker that consumes that queue.

    That worker uses Celery's prefork pool: each pool process supervises with its own runtime.
    """
    etl = f"{queue}-etl"
    deployed = deployment("rabbitmq")
    deployed.start()
    default_only = deployed.start_worker("plain", queues=queue)
    both = deployed.start_worker("etl", queues=f"{queue},{etl}", pool="prefork", concurrency=2)
    write_dag(FANOUT_DAG % {"active": 16, "count": 40, "queue": queue, "other": etl})

    run_id, _ = _run(deployed, "fanout", timeout=100)

    _assert_all_succeeded_once(deployed, run_id, 40)
    plain_runs, etl_runs = worker_runs(default_only), worker_runs(both)
    assert len(plain_runs) + len(etl_runs) == 40
    routed = [line for line in etl_runs if _task_number(line) % 5 == 0]
    assert len(routed) == 8
    assert all(_task_number(line) % 5 for line in plain_runs)


def _task_number(line: str) -> int:
    return int(line.split("fanout.t")[1][:3])


@pytest.mark.parametrize("broker", ["redis", "rabbitmq"])
def test_killed_worker_task_is_retried_elsewhere_never_twice_at_once(
    broker, write_dag, deployment, queue, tmp_path
):
    """A worker killed mid-task: the try is retried on the other worker, never run concurrently."""
    deployed = deployment(broker)
    logs = deployed.start("w1", "w2", concurrency=1)
    marks = tmp_path / "marks.txt"
    write_dag(SLOW_DAG % {"marks": str(marks), "queue": queue, "first": 60})
    run_id = deployed.trigger("slow")

    first_runner = _wait_for_mark(marks, "start 1")
    victim = _worker_running(deployed, first_runner)
    deployed.kill(victim)
    assert deployed.wait_for_run(run_id, timeout=60) == "success"

    survivor = logs["w2" if victim == "w1" else "w1"]
    _assert_retried_once_without_overlap(deployed, run_id, marks, first_runner)
    _wait_until(lambda: worker_refusals(survivor), "the redelivered workload to be refused")
    assert [_try_of(line) for line in worker_runs(survivor)] == [2]
    assert [_try_of(line) for line in worker_refusals(survivor)] == [1]


def test_sigterm_lets_the_running_try_finish(write_dag, deployment, queue, tmp_path):
    """A Celery worker stopped with SIGTERM finishes its running try, then exits leaving nothing."""
    deployed = deployment("redis")
    logs = deployed.start("w1", concurrency=1)
    marks = tmp_path / "marks.txt"
    write_dag(SLOW_DAG % {"marks": str(marks), "queue": queue, "first": 3})
    run_id = deployed.trigger("slow")
    worker = deployed.processes["w1"]
    _wait_for_mark(marks, "start 1")

    worker.send_signal(signal.SIGTERM)

    assert worker.wait(timeout=30) == 0
    assert deployed.wait_for_run(run_id, timeout=10) == "success"
    assert [_try_of(line) for line in worker_runs(logs["w1"])] == [1]
    services = {deployed.processes[name].pid for name in ("api", "scheduler")}
    left = [pid for pid in processes_of(deployed.home) if pid not in services and _alive(pid)]
    assert left == [], "the worker left processes behind (fork server, runners)"


def _try_of(line: str) -> int:
    return int(line.split(" try=")[1].split(")", maxsplit=1)[0])


def _assert_retried_once_without_overlap(
    deployed: Deployment, run_id: str, marks: Path, first_runner: int
) -> None:
    ti = deployed.task_instances(run_id)["slow"]
    assert (ti.state, ti.try_number) == (TaskInstanceState.SUCCESS, 2)
    (first_try,) = deployed.history(run_id)
    assert first_try.state == TaskInstanceState.UP_FOR_RETRY
    assert "no heartbeat" in (first_try.failure_reason or "")
    events = [line.split()[:2] for line in marks.read_text().splitlines()]
    assert events == [["start", "1"], ["start", "2"], ["end", "2"]]
    assert not _alive(first_runner), "the killed worker's runner outlived it"


def _wait_for_mark(marks: Path, prefix: str) -> int:
    found: list[int] = []

    def seen() -> bool:
        lines = marks.read_text().splitlines() if marks.exists() else []
        found.extend(int(line.split()[2]) for line in lines if line.startswith(prefix))
        return bool(found)

    _wait_until(seen, f"{prefix!r} in {marks}")
    return found[0]


def _worker_running(deployed: Deployment, pid: int) -> str:
    """The name of the worker process that ``pid`` descends from."""
    workers = {proc.pid: name for name, proc in deployed.processes.items() if name != "api"}
    while pid > 1:
        if pid in workers:
            return workers[pid]
        status = Path(f"/proc/{pid}/status").read_text()
        pid = int(next(line.split()[1] for line in status.splitlines() if line.startswith("PPid")))
    raise AssertionError("the runner does not descend from a worker")


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status


def _wait_until(check, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_runner_on_a_celery_worker_never_sees_a_token(write_dag, deployment, queue):
    """A runner on a Celery worker finds no JWT in its env, its ancestors' env, or its memory."""
    deployed = deployment("redis")
    deployed.start("w1", concurrency=1)
    path = write_dag(SNOOP_DAG.replace("QUEUE", repr(queue)))

    run_id, _ = _run(deployed, "snoop", timeout=60)

    _assert_all_succeeded_once(deployed, run_id, 1)
    found = json.loads((path.parent / "snoop.json").read_text())
    assert found == {"jwt_in": [], "memory_hits": 0, "worker_env_seen": True}


SNOOP_DAG = (
    JWT_SCAN
    + """
from pathlib import Path

def _ancestors():
    pid = os.getppid()
    while pid > 1:
        yield pid
        status = open(f"/proc/{pid}/status").read()
        pid = int(next(l.split()[1] for l in status.splitlines() if l.startswith("PPid")))

with DAG("snoop", schedule=None) as dag:
    @task(queue=QUEUE)
    def snoop():
        found = {
            "environ": open("/proc/self/environ", "rb").read(),
            "cmdline": open("/proc/self/cmdline", "rb").read(),
        }
        for pid in _ancestors():
            for part in ("environ", "cmdline"):
                try:
                    found[f"{pid}/{part}"] = open(f"/proc/{pid}/{part}", "rb").read()
                except OSError:
                    pass
        result = {
            "jwt_in": sorted(k for k, v in found.items() if JWT.search(v)),
            "memory_hits": jwts_in_memory(),
            "worker_env_seen": any(b"AIRLOCK_CELERY_BROKER_URL" in v for v in found.values()),
        }
        folder = Path(__file__).parent
        (folder / "snoop.json").write_text(json.dumps(result))

    snoop()
"""
)
