"""Local workers run what the scheduler queues: many tasks, pools, limits and clean shutdown."""

from __future__ import annotations

import json
import signal
import time

import pytest

from airlock.cli.pools_command import pool_rows
from airlock.db.models import Pool
from airlock.scheduling.control import trigger_dag

WIDE_DAG = """
with DAG("wide", max_active_tasks=64) as dag:
    @task
    def start():
        return 0

    @task
    def work(i, _):
        return i

    @task
    def done(values):
        return sum(values)

    first = start()
    done([work(i, first) for i in range(198)])
"""


def _trigger(deployment, dag_id, **kwargs):
    with deployment.sessions.begin() as session:
        return trigger_dag(session, dag_id, **kwargs).run_id


def _intervals(path):
    """(start, end) of each recorded execution, from lines 'start T' / 'end T' per task."""
    events = [json.loads(line) for line in path.read_text().splitlines()]
    starts = {e["task"]: e["t"] for e in events if e["kind"] == "start"}
    return [(starts[e["task"]], e["t"]) for e in events if e["kind"] == "end"]


def _max_overlap(intervals):
    edges = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak


@pytest.mark.slow
def test_a_200_task_dag_completes_on_a_local_worker_process(deployment):
    """A 200-task DAG runs to success on one `airlock worker` process over real HTTP."""
    deployment.write_dag(WIDE_DAG)
    deployment.scan()
    run_id = _trigger(deployment, "wide")
    worker = deployment.worker_process("--parallelism", "16")
    started = time.monotonic()
    try:
        deployment.run_until(deployment.run_finished("wide"), timeout=100, workers=[])
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    elapsed = time.monotonic() - started
    print(f"200-task DAG on a local worker (parallelism 16): {elapsed:.1f}s")
    (run,) = deployment.runs("wide")
    assert run.run_id == run_id
    assert run.state == "success", deployment.worker_log(worker)[-2000:]
    tis = deployment.tis("wide")
    assert len(tis) == 200
    assert {ti.state for ti in tis} == {"success"}
    assert all(ti.try_number == 1 for ti in tis)
    assert worker.returncode == 0


def test_pool_slots_limit_how_many_tasks_run_at_once(deployment, tmp_path):
    """Tasks in a 2-slot pool never run more than 2 at a time, though the worker could run 8."""
    record = tmp_path / "record.jsonl"
    with deployment.sessions.begin() as session:
        session.add(Pool(name="narrow", slots=2))
    deployment.write_dag(
        f"""
        def note(kind, name):
            with open({str(record)!r}, "a") as out:
                out.write(json.dumps({{"kind": kind, "task": name, "t": time.time()}}) + "\\n")

        with DAG("pooled") as dag:
            @task(pool="narrow")
            def slow(i):
                note("start", i)
                time.sleep(0.4)
                note("end", i)
            for i in range(6):
                slow.override(task_id=f"slow_{{i}}")(i)
        """
    )
    deployment.scan()
    _trigger(deployment, "pooled")
    deployment.run_until(
        deployment.run_finished("pooled"), workers=[deployment.worker(parallelism=8)]
    )
    assert {ti.state for ti in deployment.tis("pooled")} == {"success"}
    assert _max_overlap(_intervals(record)) == 2
    with deployment.sessions() as session:
        narrow = next(row for row in pool_rows(session) if row["name"] == "narrow")
    assert narrow["occupied"] == 0


def test_max_active_tis_per_dag_and_max_active_tasks_are_enforced(deployment, tmp_path):
    """max_active_tis_per_dag caps one task across runs; max_active_tasks caps the whole DAG."""
    record = tmp_path / "record.jsonl"
    deployment.write_dag(
        f"""
        def note(kind, name):
            with open({str(record)!r}, "a") as out:
                out.write(json.dumps({{"kind": kind, "task": name, "t": time.time()}}) + "\\n")

        with DAG("capped", max_active_tasks=3) as dag:
            @task(max_active_tis_per_dag=1)
            def single(**context):
                name = "single-" + context["run_id"]
                note("start", name)
                time.sleep(0.3)
                note("end", name)

            @task
            def other(i, **context):
                name = f"other-{{i}}-" + context["run_id"]
                note("start", name)
                time.sleep(0.3)
                note("end", name)
            single()
            for i in range(3):
                other.override(task_id=f"other_{{i}}")(i)
        """
    )
    deployment.scan()
    for n in range(2):
        _trigger(deployment, "capped", run_id=f"run_{n}")
    deployment.run_until(
        deployment.run_finished("capped"), workers=[deployment.worker(parallelism=16)]
    )
    assert {ti.state for ti in deployment.tis("capped")} == {"success"}
    assert _max_overlap(_intervals(record)) <= 3
    events = [json.loads(line) for line in record.read_text().splitlines()]
    single_times = sorted(
        (e["t"], e["kind"]) for e in events if str(e["task"]).startswith("single-")
    )
    assert [kind for _, kind in single_times] == ["start", "end", "start", "end"]


def test_workers_share_the_queue_and_serve_only_their_queues(deployment):
    """Two workers split the tries of their queue; a try in another queue waits for its worker."""
    deployment.write_dag(
        """
        with DAG("queues") as dag:
            for i in range(8):
                @task(task_id=f"t{i}")
                def nap():
                    time.sleep(0.2)
                    return os.getpid()
                nap()
            @task(queue="gpu")
            def special():
                return "gpu"
            special()
        """
    )
    deployment.scan()
    _trigger(deployment, "queues")
    workers = [deployment.worker(parallelism=4), deployment.worker(parallelism=4)]
    deployment.run_until(
        lambda: all(
            ti.state == "success" for ti in deployment.tis("queues") if ti.queue == "default"
        ),
        workers=workers,
    )
    special = next(ti for ti in deployment.tis("queues") if ti.task_id == "special")
    assert special.state == "queued"
    assert sum(len(w.report.outcomes) for w in workers) == 8
    assert all(w.report.outcomes for w in workers)
    deployment.run_until(
        deployment.run_finished("queues"), workers=[deployment.worker(queues=["gpu"])]
    )
    assert deployment.runs("queues")[0].state == "success"


def test_sigterm_lets_short_tries_finish_and_hands_back_long_ones(make_deployment, tmp_path):
    """A worker stopped with SIGTERM finishes what ends within its grace and hands back the rest."""
    deployment = make_deployment(worker_shutdown_grace=1.0)
    marker = tmp_path / "long-started"
    deployment.write_dag(
        f"""
        with DAG("shutdown") as dag:
            @task
            def short():
                time.sleep(0.3)
                return "short"

            @task(retries=0)
            def long(**context):
                open({str(marker)!r} + str(context["ti"].try_number), "w").close()
                for _ in range(600):
                    time.sleep(0.05)
                    print("still working", flush=True)
                return "long"
            short()
            long()
        """
    )
    deployment.scan()
    _trigger(deployment, "shutdown")
    worker = deployment.worker_process("--parallelism", "4")
    try:
        deployment.run_until((tmp_path / "long-started1").exists, workers=[])
        time.sleep(0.1)
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    log = deployment.worker_log(worker)
    assert worker.returncode == 0, log[-2000:]
    tis = {ti.task_id: ti for ti in deployment.tis("shutdown")}
    assert tis["short"].state == "success"
    assert tis["long"].state == "scheduled"  # handed back: it will be queued again
    (archived,) = deployment.history("shutdown")
    assert archived.task_id == "long"
    assert "handed back" in archived.failure_reason
    deployment.loop()
    (queued,) = [ti for ti in deployment.tis("shutdown") if ti.task_id == "long"]
    assert queued.state == "queued"
    assert queued.try_number == 2
    assert "handed back 1 running tries" in log


def test_a_claimed_try_whose_runner_cannot_start_fails_with_the_reason(deployment):
    """The claim started the try; a runner that cannot be launched still ends it, with why."""
    deployment.write_dag(
        """
with DAG("unlaunchable") as dag:
    @task(run_as_user="airlock-no-such-user")
    def never():
        return 1

    never()
"""
    )
    deployment.scan()
    _trigger(deployment, "unlaunchable")
    worker = deployment.worker_process("--parallelism", "2")
    try:
        deployment.run_until(deployment.run_finished("unlaunchable"), timeout=60, workers=[])
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    (ti,) = deployment.tis("unlaunchable")
    assert ti.state == "failed"
    assert "airlock-no-such-user" in (ti.failure_reason or "")
