"""The API server stopped and started again while tasks run: nothing is lost, nothing stops early.

Real processes: ``airlock api-server``, ``airlock scheduler`` and ``airlock worker``. The API
server is stopped mid-run (SIGTERM, or SIGKILL) and started again on the same port. Supervisors
tolerate ``heartbeat_max_misses`` failed heartbeats in a row; meanwhile the runners' requests
(XCom pushes and pulls, the final state) wait for the API. An outage longer than that stops the
runner (it must not run unsupervised), and its try is retried once the API is back.
"""

from __future__ import annotations

import json
import signal
import time
from typing import TYPE_CHECKING

import pytest
from tests.reliability.deployed import wait_until, wait_until_gone

if TYPE_CHECKING:
    from pathlib import Path


RUN_TIMEOUT = 90.0
NOTE = """
RECORD = {record!r}

def note(kind, ti, **extra):
    line = {{"kind": kind, "task": ti.task_id, "try": ti.try_number, "pid": os.getpid(),
             "t": time.time(), **extra}}
    fd = os.open(RECORD, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.write(fd, (json.dumps(line) + "\\n").encode())
    os.close(fd)
"""

STEADY_DAG = (
    NOTE
    + """
with DAG("steady", max_active_tasks=16) as dag:
    @task
    def produce(n, **context):
        ti = context["ti"]
        note("start", ti)
        for step in range(28):  # 7 s, pushing and pulling an XCom every 0.25 s
            time.sleep(0.25)
            ti.xcom_push(key="step", value=step)
            assert ti.xcom_pull(task_ids=ti.task_id, key="step") == step
        note("end", ti)
        return n * 10

    @task
    def combine(values, **context):
        note("start", context["ti"])
        note("end", context["ti"])
        return sum(values)

    combine([produce.override(task_id=f"produce_{{n}}")(n) for n in range(4)])
"""
)


def _events(record: Path) -> list[dict]:
    if not record.exists():
        return []
    return [json.loads(line) for line in record.read_text().splitlines()]


def _started(record: Path, count: int) -> bool:
    return sum(e["kind"] == "start" for e in _events(record)) >= count


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_tasks_ride_out_an_api_server_restart(deployed, tmp_path, signum):
    """API server stopped mid-run for a few seconds, then started again on the same port.

    Every task ends success on its first try with its XComs; no runner was stopped (each ran
    from start to end in one process); the supervisors saw the outage and waited it out.
    """
    record = tmp_path / "record.jsonl"
    deployment = deployed(heartbeat_max_misses="16")  # 16 x 0.5 s: 8 s of outage tolerated
    deployment.write_dag(STEADY_DAG.format(record=str(record)))
    deployment.start_api()
    deployment.start_scheduler()
    deployment.start_worker("worker", parallelism=8)
    deployment.trigger("steady")
    wait_until(lambda: _started(record, 4), "the four producers to start", 60)

    time.sleep(1.0)
    down_at = time.time()
    deployment.stop_api(signum)
    time.sleep(2.0)
    deployment.start_api()
    outage = time.time() - down_at
    wait_until(lambda: deployment.runs_finished("steady"), "the run to finish", RUN_TIMEOUT)

    assert deployment.run_states("steady") == ["success"]
    tis = {ti.task_id: ti for ti in deployment.tis("steady")}
    assert {(ti.state, ti.try_number) for ti in tis.values()} == {("success", 1)}
    assert deployment.history("steady") == []
    values = deployment.return_values("steady")
    assert {task: value for (_run, task), value in values.items()} == {
        **{f"produce_{n}": n * 10 for n in range(4)},
        "combine": 60,
    }
    events = _events(record)
    producers = [e for e in events if e["task"].startswith("produce")]
    starts = {e["task"]: e for e in producers if e["kind"] == "start"}
    ends = {e["task"]: e for e in producers if e["kind"] == "end"}
    assert len(producers) == 8  # one start and one end each: no second try
    for task, start in starts.items():  # the same process ran through the outage
        assert ends[task]["pid"] == start["pid"]
        assert start["t"] < down_at < ends[task]["t"]
    logs = [deployment.task_log(ti) for ti in tis.values() if ti.task_id.startswith("produce")]
    assert all("the Execution API is away" in log for log in logs), "no outage was seen"
    assert not any("stopping runner" in log for log in logs)
    print(f"API {signum.name}: outage {outage:.1f}s, 5 tasks, 0 stopped, 0 lost")


CUT_OFF_DAG = (
    NOTE
    + """
GO = {go!r}

with DAG("cut_off") as dag:
    @task(retries=1, retry_delay=timedelta(seconds=0))
    def long_task(**context):
        ti = context["ti"]
        note("start", ti)
        if ti.try_number == 1:
            time.sleep(120)  # stopped long before: the API is away for longer than tolerated
        note("end", ti)
        return "done"

    @task
    def done_in_outage(**context):
        ti = context["ti"]
        note("start", ti)
        while not os.path.exists(GO):  # the test says go once the API is down
            time.sleep(0.05)
        note("end", ti)  # the final report is made while the API is down

    long_task()
    done_in_outage()
"""
)


@pytest.mark.slow
def test_a_runner_cut_off_from_the_api_longer_than_tolerated_is_stopped(deployed, tmp_path):
    """API down for longer than heartbeat_max_misses x heartbeat_interval (3 x 0.5 s).

    The running task's runner is stopped while the API is still down; once the API is back its
    try ends up_for_retry saying why, and the retry succeeds. A task that finished during the
    outage has its success reported once the API is back (the final report waits for it).
    """
    record, go = tmp_path / "record.jsonl", tmp_path / "go"
    deployment = deployed(heartbeat_max_misses="3", heartbeat_timeout="30")
    deployment.write_dag(CUT_OFF_DAG.format(record=str(record), go=str(go)))
    deployment.start_api()
    deployment.start_scheduler()
    deployment.start_worker("worker", parallelism=4)
    deployment.trigger("cut_off")
    wait_until(lambda: _started(record, 2), "both tasks to start", 60)
    (first,) = [e for e in _events(record) if e["task"] == "long_task"]

    down_at = time.monotonic()
    deployment.stop_api(signal.SIGKILL)
    go.touch()
    assert wait_until_gone({first["pid"]}, 20) == set(), "the cut-off runner was not stopped"
    stopped_after = time.monotonic() - down_at
    time.sleep(max(0.0, 8.0 - stopped_after))  # an outage of 8 s in all
    deployment.start_api()
    outage = time.monotonic() - down_at
    wait_until(lambda: deployment.runs_finished("cut_off"), "the run to finish", RUN_TIMEOUT)

    tis = {ti.task_id: ti for ti in deployment.tis("cut_off")}
    assert (tis["long_task"].state, tis["long_task"].try_number) == ("success", 2)
    assert (tis["done_in_outage"].state, tis["done_in_outage"].try_number) == ("success", 1)
    (stopped,) = deployment.history("cut_off")
    assert (stopped.task_id, stopped.state) == ("long_task", "up_for_retry")
    assert "3 heartbeats in a row failed" in (stopped.failure_reason or "")
    assert deployment.return_values("cut_off") == {(tis["long_task"].run_id, "long_task"): "done"}
    assert 1.5 < stopped_after < 15
    print(
        f"outage {outage:.1f}s: runner stopped after {stopped_after:.1f}s, retried; "
        "success reported after the outage"
    )
