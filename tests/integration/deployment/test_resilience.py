"""What the control plane does when things break: dead workers, broken files, reruns."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from airlock.cli.dag_admin import dag_rows, error_rows
from airlock.db.models import TaskInstance
from airlock.scheduling.control import clear_task_instances, trigger_dag
from airlock.scheduling.timeouts import fail_lost_tries


def _trigger(deployment, dag_id, **kwargs):
    with deployment.sessions.begin() as session:
        return trigger_dag(session, dag_id, **kwargs).run_id


@pytest.mark.slow
def test_a_killed_worker_s_try_is_retried_elsewhere_and_never_overlaps(make_deployment, tmp_path):
    """A SIGKILLed worker's try is retried elsewhere after the heartbeat timeout, never overlapping.

    The first try's runner dies with its worker (no orphan is left running); the second try
    starts only afterwards.
    """
    deployment = make_deployment(heartbeat_timeout=2.0)
    record = tmp_path / "record.jsonl"
    deployment.write_dag(
        f"""
        with DAG("fragile") as dag:
            @task(retries=1, retry_delay=timedelta(seconds=0))
            def steady(**context):
                def note(kind):
                    with open({str(record)!r}, "a") as out:
                        line = {{"kind": kind, "try": context["ti"].try_number,
                                 "pid": os.getpid(), "t": time.time()}}
                        out.write(json.dumps(line) + "\\n")
                note("start")
                for _ in range(40):
                    time.sleep(0.1)
                    print("working", flush=True)
                note("end")
                return context["ti"].try_number
            steady()
        """
    )
    deployment.scan()
    _trigger(deployment, "fragile")
    doomed = deployment.worker_process("--parallelism", "2")
    try:
        deployment.run_until(record.exists, timeout=30, workers=[])
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(timeout=10)
        killed_at = time.time()
        orphan = json.loads(record.read_text().splitlines()[0])["pid"]
        assert _gone_within(orphan, 5.0), "the killed worker's runner is still running"
        deployment.run_until(
            deployment.run_finished("fragile"), timeout=60, workers=[deployment.worker()]
        )
    finally:
        if doomed.poll() is None:
            doomed.kill()
            doomed.wait()
    (ti,) = deployment.tis("fragile")
    assert ti.state == "success"
    assert ti.try_number == 2
    (lost,) = deployment.history("fragile")
    assert lost.state == "up_for_retry"
    assert "no heartbeat" in lost.failure_reason
    events = [json.loads(line) for line in record.read_text().splitlines()]
    assert [(e["kind"], e["try"]) for e in events] == [("start", 1), ("start", 2), ("end", 2)]
    assert events[1]["t"] > killed_at  # the retry started only after the first try was gone
    print(f"worker SIGKILLed; retry started {events[1]['t'] - killed_at:.1f}s later")


def _gone_within(pid: int, seconds: float) -> bool:
    """Whether process ``pid`` has ended (or is a zombie) within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False


def test_a_try_without_retries_whose_heartbeat_stops_fails_with_the_reason(deployment):
    """A running try whose heartbeat is older than the timeout is failed when no retry is left."""
    deployment.write_dag(
        """
        with DAG("lost") as dag:
            @task
            def one():
                return 1
            one()
        """
    )
    deployment.scan()
    _trigger(deployment, "lost")
    deployment.loop()
    (ti,) = deployment.tis("lost")
    stale = deployment.clock().replace(year=2000)
    with deployment.sessions.begin() as session:
        row = session.get(TaskInstance, ti.id)
        row.state, row.last_heartbeat_at, row.hostname, row.pid = "running", stale, "gone", 7
    with deployment.sessions.begin() as session:
        (ended,) = fail_lost_tries(session, deployment.clock(), timeout=30)
    assert ended.state == "failed"
    (ti,) = deployment.tis("lost")
    assert ti.state == "failed"
    assert "pid 7 on gone" in ti.failure_reason
    deployment.loop()
    assert deployment.runs("lost")[0].state == "failed"


def test_a_try_queued_too_long_is_queued_again_under_a_new_id(make_deployment):
    """A queued try nobody started goes back to scheduled with a new id, then is queued afresh."""
    deployment = make_deployment(queued_timeout=0.5)
    deployment.write_dag(
        """
        with DAG("stuck") as dag:
            @task
            def one():
                return 1
            one()
        """
    )
    deployment.scan()
    _trigger(deployment, "stuck")
    deployment.loop()
    (first,) = deployment.tis("stuck")
    assert first.state == "queued"
    time.sleep(0.6)
    report = deployment.loop()
    assert [t.state for t in report.timed_out] == ["scheduled"]
    deployment.loop()
    (again,) = deployment.tis("stuck")
    assert again.state == "queued"
    assert again.id != first.id
    assert again.try_number == 1
    assert len(deployment.executor.sent) == 2
    deployment.run_until(deployment.run_finished("stuck"))
    assert deployment.runs("stuck")[0].state == "success"


def test_a_broken_dag_file_is_reported_and_the_others_keep_running(deployment):
    """A file that fails to import, or hangs, is recorded with its error; other DAGs still run."""
    deployment.write_dag(
        "with DAG('broken') as dag:\n    raise ValueError('no luck')\n", "broken.py"
    )
    deployment.write_dag(
        "while True:\n    pass  # a DAG that never finishes importing\n", "hangs.py"
    )
    deployment.write_dag(
        """
        with DAG("healthy") as dag:
            @task
            def fine():
                return "fine"
            fine()
        """,
        "healthy.py",
    )
    deployment.scheduler.processor.timeout = 2.0
    deployment.scan()
    with deployment.sessions() as session:
        errors = {row["filename"].rsplit("/", 1)[1]: row for row in error_rows(session)}
        dags = [row["dag_id"] for row in dag_rows(session)]
    assert set(errors) == {"broken.py", "hangs.py"}
    assert "ValueError: no luck" in errors["broken.py"]["message"]
    assert errors["broken.py"]["line"] == 6
    assert "longer than 2s" in errors["hangs.py"]["message"]
    assert dags == ["healthy"]
    _trigger(deployment, "healthy")
    deployment.run_until(deployment.run_finished("healthy"))
    assert deployment.runs("healthy")[0].state == "success"
    deployment.write_dag("with DAG('broken') as dag:\n    pass\n", "broken.py")
    deployment.scan()
    with deployment.sessions() as session:
        assert {row["filename"].rsplit("/", 1)[1] for row in error_rows(session)} == {"hangs.py"}


def test_tasks_clear_reruns_the_chosen_tasks_and_what_follows(deployment, tmp_path):
    """Clearing a finished run's task (with --downstream) runs it and its downstream again."""
    counter = tmp_path / "count"
    deployment.write_dag(
        f"""
        with DAG("rerun") as dag:
            @task
            def first():
                return 1

            @task
            def second(x):
                with open({str(counter)!r}, "a") as out:
                    out.write("x")
                return x + 1

            @task
            def third(y):
                return y + 1
            third(second(first()))
        """
    )
    deployment.scan()
    run_id = _trigger(deployment, "rerun")
    deployment.run_until(deployment.run_finished("rerun"))
    before = {ti.task_id: ti for ti in deployment.tis("rerun")}
    with deployment.sessions.begin() as session:
        cleared = clear_task_instances(
            session, "rerun", run_id, task_ids=["second"], downstream=True
        )
    assert sorted(c.task_id for c in cleared) == ["second", "third"]
    assert deployment.runs("rerun")[0].state == "queued"
    deployment.run_until(deployment.run_finished("rerun"))
    after = {ti.task_id: ti for ti in deployment.tis("rerun")}
    assert {ti.state for ti in after.values()} == {"success"}
    assert after["first"].id == before["first"].id
    assert after["second"].id != before["second"].id
    assert after["second"].try_number == 2
    assert counter.read_text() == "xx"
    archived = sorted(ti.task_id for ti in deployment.history("rerun"))
    assert archived == ["second", "third"]
