"""Tasks run in their own runner process under a supervisor, and every outcome is reported."""

from __future__ import annotations

import pytest
from tests.support import by_task, read_log


def test_taskflow_values_flow_between_tasks(write_dag, run_dag):
    """A @task's return value reaches the next task as its argument, through XCom."""
    path = write_dag(
        """
        with DAG("flow") as dag:
            @task
            def produce():
                return {"rows": [1, 2, 3], "when": datetime(2026, 1, 1)}

            @task
            def consume(data):
                return sum(data["rows"]) + data["when"].year

            consume(produce())
        """
    )
    report = run_dag(path)
    assert report.state == "success"
    assert by_task(report)["consume"].return_value == 2032


def test_printing_does_not_break_the_protocol(write_dag, run_dag, fast_settings):
    """Whatever a task prints, even bytes shaped like frames, lands in its log, not the socket."""
    path = write_dag(
        """
        with DAG("noisy") as dag:
            @task
            def shout():
                sys.stdout.buffer.write(b"\\x00\\x00\\x00\\x05hello-not-a-frame\\n")
                for i in range(2000):
                    print(f"line {i}")
                print("to stderr", file=sys.stderr)
                assert sys.stdin.read() == ""   # stdin is not the protocol socket
                logging.getLogger("mine").warning("structured %s", "warning")
                return "done"

            shout()
        """
    )
    report = run_dag(path)
    assert report.state == "success"
    log = read_log(fast_settings, report, "shout")
    assert '"event":"line 1999"' in log
    assert '"logger":"task.stderr"' in log
    assert '"event":"structured warning"' in log


def test_os_exit_fails_the_task_with_its_exit_code(write_dag, run_dag, fast_settings):
    """A runner that exits without reporting is failed by the supervisor with the exit code."""
    path = write_dag(
        """
        with DAG("exits") as dag:
            @task
            def leave():
                os._exit(3)

            leave()
        """
    )
    report = run_dag(path)
    ti = by_task(report)["leave"]
    assert (report.state, ti.state) == ("failed", "failed")
    assert ti.reason == "the runner exited with code 3"
    assert "the runner exited with code 3" in read_log(fast_settings, report, "leave")


def test_killed_runner_fails_with_the_signal(write_dag, run_dag):
    """A runner killed by a signal is failed with the signal's name and a likely cause."""
    path = write_dag(
        """
        with DAG("killed") as dag:
            @task
            def die():
                os.kill(os.getpid(), signal.SIGKILL)

            die()
        """
    )
    ti = by_task(run_dag(path))["die"]
    assert ti.state == "failed"
    assert ti.reason.startswith("the runner was killed by SIGKILL")


def test_execution_timeout_stops_a_sleeping_task(write_dag, run_dag):
    """A task over its execution_timeout is interrupted and failed as a timeout."""
    path = write_dag(
        """
        with DAG("slow") as dag:
            @task(execution_timeout=timedelta(seconds=1))
            def nap():
                time.sleep(60)

            nap()
        """
    )
    report = run_dag(path)
    ti = by_task(report)["nap"]
    assert ti.state == "failed"
    assert ti.reason.startswith("AirlockTaskTimeout")
    assert report.duration < 20


def test_task_that_ignores_signals_is_killed_by_the_supervisor(write_dag, run_dag):
    """A task that blocks SIGALRM and SIGTERM is still stopped: SIGTERM, grace, then SIGKILL."""
    path = write_dag(
        """
        with DAG("stubborn") as dag:
            @task(execution_timeout=timedelta(seconds=1))
            def spin():
                signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM, signal.SIGTERM})
                while True:
                    pass

            spin()
        """
    )
    report = run_dag(path)
    ti = by_task(report)["spin"]
    assert ti.state == "failed"
    assert ti.reason == "the task ran past its execution_timeout of 1s and was stopped"
    assert report.duration < 20


def test_failure_with_retries_left_is_retried(write_dag, run_dag, tmp_path):
    """A failed try with retries left runs again after its retry delay, and can succeed."""
    marker = tmp_path / "tried"
    path = write_dag(
        f"""
        with DAG("flaky") as dag:
            @task(retries=2, retry_delay=timedelta(seconds=0))
            def flaky():
                marker = {str(marker)!r}
                if not os.path.exists(marker):
                    open(marker, "w").close()
                    raise RuntimeError("first try fails")
                return "second try works"

            flaky()
        """
    )
    report = run_dag(path)
    ti = by_task(report)["flaky"]
    assert (ti.state, ti.try_number, ti.return_value) == ("success", 2, "second try works")


def test_failure_without_retries_left_fails_and_downstream_is_upstream_failed(write_dag, run_dag):
    """When the last try fails, the task fails and tasks after it become upstream_failed."""
    path = write_dag(
        """
        with DAG("breaks") as dag:
            @task(retries=1, retry_delay=0)
            def broken():
                raise ValueError("bad input")

            @task
            def after(_):
                return 1

            after(broken())
        """
    )
    report = run_dag(path)
    tis = by_task(report)
    assert report.state == "failed"
    assert (tis["broken"].state, tis["broken"].try_number) == ("failed", 2)
    assert tis["broken"].reason == "ValueError: bad input"
    assert tis["after"].state == "upstream_failed"


@pytest.mark.parametrize(
    ("body", "state", "reason"),
    [
        ('raise AirlockSkipException("nothing to do")', "skipped", None),
        ('raise AirlockFailException("give up")', "failed", "AirlockFailException: give up"),
    ],
)
def test_control_exceptions_choose_the_outcome(write_dag, run_dag, body, state, reason):
    """The skip exception skips the task; the fail exception fails it without retrying."""
    path = write_dag(
        f"""
        with DAG("control") as dag:
            @task(retries=3, retry_delay=0)
            def decide():
                {body}

            decide()
        """
    )
    ti = by_task(run_dag(path))["decide"]
    assert (ti.state, ti.try_number) == (state, 1)
    if reason:
        assert ti.reason == reason


def test_classic_operator_runs_and_reads_xcom(write_dag, run_dag):
    """A BaseOperator subclass runs its execute(context) and can pull upstream XComs."""
    path = write_dag(
        """
        class Doubler(BaseOperator):
            def execute(self, context):
                return context["ti"].xcom_pull(task_ids="seed") * 2

        with DAG("classic") as dag:
            @task
            def seed():
                return 21

            seed() >> Doubler(task_id="double")
        """
    )
    assert by_task(run_dag(path))["double"].return_value == 42


def test_http_api_mode_runs_over_a_loopback_port(write_dag, run_dag):
    """With api='http' the supervisor talks to the Execution API over real HTTP."""
    path = write_dag(
        """
        with DAG("over_http") as dag:
            @task
            def one():
                return 1

            @task
            def two(x):
                return x + 1

            two(one())
        """
    )
    report = run_dag(path, api="http")
    assert by_task(report)["two"].return_value == 2
