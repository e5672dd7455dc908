"""Task and DAG callbacks run as user code outside the scheduler; retries follow Airflow."""

from __future__ import annotations

from datetime import timedelta

from tests.support import by_task, read_log

from airlock.definitions.serialized import SerializedTask
from airlock.execution.dag_callbacks import callback_log_path
from airlock.scheduling.dagrun_scheduler import retry_delay
from airlock.scheduling.retries import MAX_RETRY_DELAY, next_retry_delay

CALLBACKS = """
def note(kind):
    def callback(context):
        error = context.get("exception")
        print(f"CALLBACK {kind} try={context['ti'].try_number} error={type(error).__name__}")
    return callback

def broken(context):
    raise RuntimeError("callback bug")
"""


def test_task_callbacks_run_after_the_state_with_the_exception(write_dag, run_dag, fast_settings):
    """on_execute, on_retry and on_failure run in the runner; failures see the exception."""
    path = write_dag(
        CALLBACKS
        + """
with DAG("callbacks") as dag:
    @task(retries=1, retry_delay=0, on_execute_callback=note("execute"),
          on_retry_callback=note("retry"), on_failure_callback=[broken, note("failure")])
    def flaky():
        raise ValueError("nope")

    @task(on_success_callback=[broken, note("success")])
    def fine():
        return 1

    @task(on_skipped_callback=note("skipped"))
    def skipping():
        raise AirlockSkipException()

    flaky(), fine(), skipping()
"""
    )
    report = run_dag(path)
    tis = by_task(report)
    assert (tis["flaky"].state, tis["flaky"].try_number) == ("failed", 2)
    first, second = (read_log(fast_settings, report, "flaky", n) for n in (1, 2))
    assert "CALLBACK execute try=1" in first
    assert "CALLBACK retry try=1 error=ValueError" in first
    assert "CALLBACK failure try=2 error=ValueError" in second
    assert "on_failure_callback broken of task 'flaky' failed; the error is ignored" in second
    assert tis["fine"].state == "success"
    assert "CALLBACK success try=1 error=NoneType" in read_log(fast_settings, report, "fine")
    assert "CALLBACK skipped" in read_log(fast_settings, report, "skipping")


def test_dag_callbacks_run_in_their_own_process_when_the_run_ends(
    write_dag, run_dag, fast_settings
):
    """A DAG's on_failure_callback runs after the run failed, with the reason and the run."""
    path = write_dag(
        """
import os
def on_failure(context):
    print("DAG FAILED", context["reason"], context["dag_run"].run_id == context["run_id"])
    print("has token:", any("TOKEN" in k for k in os.environ))

def on_success(context):
    print("never")

with DAG("dag_callbacks", on_failure_callback=on_failure, on_success_callback=on_success) as dag:
    @task
    def boom():
        raise ValueError("x")

    boom()
"""
    )
    report = run_dag(path)
    assert report.state == "failed"
    log = callback_log_path(fast_settings.logs_folder, report.dag_id, report.run_id).read_text()
    assert "DAG FAILED task_failure True" in log
    assert "has token: False" in log
    assert "never" not in log


def test_try_number_counts_up_across_retries(write_dag, run_dag):
    """Each retry is a new try; try_number in the context says which."""
    path = write_dag(
        """
with DAG("tries") as dag:
    @task(retries=2, retry_delay=timedelta(seconds=0))
    def third_time_lucky(try_number=None):
        if try_number < 3:
            raise RuntimeError(f"try {try_number}")
        return try_number

    third_time_lucky()
"""
    )
    ti = by_task(run_dag(path))["third_time_lucky"]
    assert (ti.state, ti.try_number, ti.return_value) == ("success", 3, 3)


def test_exponential_backoff_follows_airflows_formula():
    """The wait after try n is between delay*2**(n-1) and twice that, capped as Airflow caps it."""
    for try_number in (1, 2, 3, 6):
        floor = 10 * 2 ** (try_number - 1)
        wait = next_retry_delay(10, try_number, exponential_backoff=True, max_retry_delay=None)
        assert floor <= wait.total_seconds() < 2 * floor
    capped = next_retry_delay(10, 5, exponential_backoff=True, max_retry_delay=60)
    assert capped == timedelta(seconds=60)
    assert next_retry_delay(3600, 40, exponential_backoff=True, max_retry_delay=None) == timedelta(
        seconds=MAX_RETRY_DELAY
    )
    assert next_retry_delay(0, 1, exponential_backoff=True, max_retry_delay=None) >= timedelta(
        seconds=1
    )


def test_plain_retry_delay_ignores_max_retry_delay_as_airflow_does():
    """Without exponential backoff the wait is retry_delay, whatever max_retry_delay says."""
    task = SerializedTask(task_id="t", operator="X", retry_delay=120.0, max_retry_delay=30.0)
    assert retry_delay(task, 3) == timedelta(seconds=120)


def test_the_jitter_is_the_same_for_the_same_task_instance():
    """Two computations for the same task instance and try give the same wait."""
    first = next_retry_delay(5, 3, exponential_backoff=True, max_retry_delay=None, seed="d#t#r")
    again = next_retry_delay(5, 3, exponential_backoff=True, max_retry_delay=None, seed="d#t#r")
    assert first == again
