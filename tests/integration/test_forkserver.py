"""Runners forked from the preloaded fork server: fast, isolated, and never holding a token."""

from __future__ import annotations

from dataclasses import replace

from tests.support import JWT_SCAN, by_task, read_log

MEMORY_SCAN = (
    JWT_SCAN
    + r"""
def parent_of(pid):
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[1])

with DAG("scan_forkserver") as dag:
    @task
    def scan():
        fork_server = os.getppid()
        supervisor = parent_of(fork_server)
        return {
            "fork_server_cmdline": open(f"/proc/{fork_server}/cmdline", "rb").read().decode(),
            "fork_server": jwts_in_memory(fork_server),
            "supervisor": jwts_in_memory(supervisor),
        }

    scan()
"""
)


def test_fork_server_never_holds_a_token(write_dag, run_dag):
    """The fork server's memory holds no JWT, while the supervisor's does (the scan works)."""
    report = run_dag(write_dag(MEMORY_SCAN))
    found = by_task(report)["scan"].return_value
    assert "airlock.execution.forkserver" in found["fork_server_cmdline"]
    assert found["fork_server"] == 0
    assert found["supervisor"] > 0


def test_runners_reuse_the_dag_file_parsed_by_the_fork_server(write_dag, run_dag, fast_settings):
    """A runner forked for an already-parsed, unchanged DAG file does not import it again."""
    path = write_dag(
        """
        with DAG("parsed_once") as dag:
            @task
            def first():
                return 1

            @task
            def second(x):
                return x + 1

            second(first())
        """
    )
    report = run_dag(path)
    assert by_task(report)["second"].return_value == 2
    assert "DAG file parsed in the fork server in" in read_log(fast_settings, report, "first")
    assert "DAG file already parsed in the fork server" in read_log(fast_settings, report, "second")


def test_changed_dag_file_is_parsed_again(write_dag, run_dag, fast_settings):
    """After a DAG file changes, runners see the new code, not the fork server's old import."""
    body = """
        with DAG("changes") as dag:
            @task
            def value():
                return {value}

            value()
        """
    path = write_dag(body.format(value=1))
    assert by_task(run_dag(path))["value"].return_value == 1
    path = write_dag(body.format(value=22))
    assert by_task(run_dag(path))["value"].return_value == 22


def test_exec_fallback_runs_each_runner_in_a_fresh_interpreter(write_dag, run_dag, fast_settings):
    """With runner_start='exec' every runner is a fresh interpreter, and tasks still run."""
    path = write_dag(
        """
        with DAG("exec_mode") as dag:
            @task
            def parent_cmdline():
                return open(f"/proc/{os.getppid()}/cmdline", "rb").read().decode()

            parent_cmdline()
        """
    )
    settings = replace(fast_settings, runner_start="exec")
    report = run_dag(path, settings=settings)
    assert "airlock.execution.forkserver" not in by_task(report)["parent_cmdline"].return_value
    assert "fresh interpreter" in read_log(settings, report, "parent_cmdline")


def test_killing_the_fork_server_fails_its_runners_and_a_new_one_takes_over(write_dag, run_dag):
    """If the fork server dies, its runners die with it (reported failed) and later tasks run."""
    path = write_dag(
        """
        with DAG("lose_forkserver") as dag:
            @task(retries=1, retry_delay=0)
            def kill_parent():
                if os.environ.get("AIRLOCK_TEST_SECOND_TRY") is None and context_try() == 1:
                    os.kill(os.getppid(), signal.SIGKILL)
                    time.sleep(30)
                return "survived"

            def context_try():
                from airlock import get_current_context
                return get_current_context()["ti"].try_number

            kill_parent()
        """
    )
    ti = by_task(run_dag(path))["kill_parent"]
    assert (ti.state, ti.try_number, ti.return_value) == ("success", 2, "survived")
