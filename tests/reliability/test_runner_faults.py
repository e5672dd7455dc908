"""A runner that dies, however it dies, ends its try with the cause, in the log and the database.

Each fault is injected into several tasks of one run, under both ways of starting runners
(forked by the fork server, or exec'd), so "every time" is shown, not assumed.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from tests.support import all_tries, by_task, read_log

COPIES = 4
"""Tasks per run that inject the same fault."""

FAULTS = {
    "segfault": ("import ctypes; ctypes.string_at(0)", "killed by SIGSEGV (a segmentation fault"),
    "null_write": ("import ctypes; ctypes.memset(0, 1, 1)", "killed by SIGSEGV"),
    "os_exit": ("os._exit(3)", "the runner exited with code 3"),
    "sigkill": ("os.kill(os.getpid(), signal.SIGKILL)", "killed by SIGKILL"),
}

FAULTY_DAG = """
with DAG("faults") as dag:
    for i in range({copies}):
        @task(task_id=f"fault_{{i}}", retries={retries}, retry_delay=0)
        def fault():
            from airlock import get_current_context
            if get_current_context()["ti"].try_number == 1:
                {fault}
            return "recovered"

        fault()
"""


@pytest.fixture(params=["fork", "exec"])
def launch_settings(request, fast_settings):
    """The fast settings, with runners started one way and then the other."""
    return replace(fast_settings, runner_start=request.param)


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_dying_runner_fails_its_try_with_the_cause(fault, write_dag, run_dag, launch_settings):
    """A runner that crashes, exits or is killed ends failed, its cause in the log and the DB."""
    code, cause = FAULTS[fault]
    path = write_dag(FAULTY_DAG.format(copies=COPIES, retries=0, fault=code))
    report = run_dag(path, settings=launch_settings)
    assert report.state == "failed"
    for task_id, ti in by_task(report).items():
        assert ti.state == "failed", task_id
        assert cause in ti.reason, (task_id, ti.reason)
        assert cause in read_log(launch_settings, report, task_id)


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_dying_runner_with_tries_left_is_retried(fault, write_dag, run_dag, launch_settings):
    """With a retry left, a crashed try ends up_for_retry with its cause, and the retry runs."""
    code, cause = FAULTS[fault]
    path = write_dag(FAULTY_DAG.format(copies=COPIES, retries=1, fault=code))
    report = run_dag(path, settings=launch_settings)
    assert report.state == "success"
    tries = all_tries(report)
    assert len(tries) == 2 * COPIES
    for task_id, try_number, state, reason in tries:
        if try_number == 1:
            assert state == "up_for_retry", task_id
            assert cause in reason, (task_id, reason)
        else:
            assert (state, reason) == ("success", None), task_id
    assert all(ti.return_value == "recovered" for ti in report.task_instances)
