"""Two schedulers on one PostgreSQL database never queue a try twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from airlock.scheduling.control import trigger_dag

SCHEDULER = Path(__file__).with_name("recording_scheduler.py")


def _start_scheduler(deployment, out: Path, seconds: float) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRLOCK_")}
    env |= {
        "AIRLOCK_HOME": str(deployment.settings.home),
        "AIRLOCK_DATABASE_URL": deployment.settings.database_url,
        "AIRLOCK_DAGS_FOLDER": str(deployment.settings.dags_folder),
        "AIRLOCK_SCHEDULER_LOOP_INTERVAL": "0.01",
        "AIRLOCK_PARSING_INTERVAL": "0.5",
    }
    return subprocess.Popen(
        [sys.executable, str(SCHEDULER), str(out), str(seconds)],
        env=env,
        cwd=Path(__file__).parents[3],
        stderr=subprocess.PIPE,
    )


@pytest.mark.slow
def test_two_scheduler_processes_never_queue_the_same_try_twice(
    make_deployment, postgres_url, tmp_path
):
    """Two scheduler processes racing over the same runs send each try exactly once."""
    deployment = make_deployment(database_url=postgres_url)
    deployment.write_dag(
        """
        with DAG("race", max_active_tasks=1000) as dag:
            for i in range(25):
                @task(task_id=f"root_{i}")
                def root():
                    return 1
                @task(task_id=f"leaf_{i}")
                def leaf(x):
                    return x
                leaf(root())
        """
    )
    deployment.scan()
    with deployment.sessions.begin() as session:
        for n in range(4):
            trigger_dag(session, "race", run_id=f"run_{n}")
    outputs = [tmp_path / "scheduler-a.jsonl", tmp_path / "scheduler-b.jsonl"]
    schedulers = [_start_scheduler(deployment, out, 6.0) for out in outputs]
    try:
        deployment.run_until(
            deployment.run_finished("race"),
            timeout=90,
            workers=[deployment.worker(parallelism=12)],
        )
    finally:
        errors = [proc.communicate(timeout=30)[1].decode() for proc in schedulers]
    assert all(proc.returncode == 0 for proc in schedulers), errors
    sends = [json.loads(line) for out in outputs for line in out.read_text().splitlines()]
    sends += [
        {"ti": w.ti.id, "try": w.ti.try_number, "task": w.ti.task_id, "run": w.ti.run_id}
        for w in deployment.executor.sent
    ]
    per_try = Counter((send["run"], send["task"], send["try"]) for send in sends)
    assert len(per_try) == 4 * 50
    assert max(per_try.values()) == 1
    assert all(lines.read_text() for lines in outputs), "both schedulers must have queued tries"
    assert {run.state for run in deployment.runs("race")} == {"success"}
