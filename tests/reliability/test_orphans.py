"""When a supervisor is SIGKILLed, its runners (and what they started) do not run on unsupervised.

The supervisor here is a real ``airlock dags test`` process. Every process it leads to carries a
marker in its environment, so the test finds survivors by reading ``/proc``, not by trusting
pids the processes report about themselves.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

SETTLE_SECONDS = 5.0
"""How long the runners get to die after their supervisor did."""

SLEEPER = """
import subprocess
with DAG("orphans") as dag:
    @task
    def sleeper():
        child = subprocess.Popen(["sleep", "600"])
        with open({ready!r}, "w") as ready:
            ready.write(f"{{os.getpid()}} {{child.pid}}")
        time.sleep(600)

    sleeper()
"""


def marked_processes(marker: str) -> list[int]:
    """The live processes whose environment holds ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if marker.encode() in environ and state != "Z":
            found.append(int(entry.name))
    return found


def wait_for(path: Path, seconds: float) -> str:
    """Wait until ``path`` holds text; return it."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and (text := path.read_text()):
            return text
        time.sleep(0.05)
    pytest.fail(f"{path} was not written within {seconds}s")


def wait_until_gone(marker: str, seconds: float) -> list[int]:
    """Wait until no process carries ``marker``; return the survivors after ``seconds``."""
    deadline = time.monotonic() + seconds
    while (survivors := marked_processes(marker)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return survivors


@pytest.mark.parametrize("runner_start", ["fork", "exec"])
def test_killing_the_supervisor_leaves_no_runner_behind(runner_start, write_dag, tmp_path):
    """SIGKILL to `airlock dags test` mid-task: its runner (and fork server) die within seconds.

    With forked runners the fork server also kills what the task started; an exec'd runner dies
    by PR_SET_PDEATHSIG alone, and a process the task started outlives it (docs/guarantees.md).
    """
    marker = f"airlock-orphan-{uuid.uuid4().hex}"
    ready = tmp_path / "ready"
    dag_file = write_dag(SLEEPER.format(ready=str(ready)))
    env = {**os.environ, "ORPHAN_MARKER": marker, "AIRLOCK_RUNNER_START": runner_start}
    cli = subprocess.Popen(
        [sys.executable, "-m", "airlock.cli.main", "dags", "test", str(dag_file), "--quiet"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        runner_pid, child_pid = map(int, wait_for(ready, 60).split())
        assert {runner_pid, child_pid} <= set(marked_processes(marker))
    finally:
        cli.send_signal(signal.SIGKILL)
        cli.wait()
    expected_gone = set(marked_processes(marker)) if runner_start == "fork" else {runner_pid}
    survivors = wait_until_gone(marker, SETTLE_SECONDS)
    for pid in survivors:  # leave nothing behind for the next test
        os.kill(pid, signal.SIGKILL)
    assert expected_gone.isdisjoint(survivors)
    assert survivors == ([] if runner_start == "fork" else [child_pid])


def test_a_runner_whose_parent_is_already_gone_exits_at_once():
    """A runner started by a process that died before PR_SET_PDEATHSIG was set exits by itself."""
    ours, theirs = socket.socketpair()  # a supervisor end that never sends StartupDetails
    with ours, theirs:
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "airlock.execution.runner"],
            stdin=theirs.fileno(),
            env={**os.environ, "AIRLOCK_PARENT_PID": "1", "AIRLOCK_LOG_FD": "2"},
            capture_output=True,
            timeout=30,
            check=False,
        )
    assert done.returncode == 1
    assert time.monotonic() - started < 10
