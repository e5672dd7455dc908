"""BashOperator / @task.bash and @task.virtualenv run their commands from the runner."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from tests.support import by_task, read_log

BASH = "from airlock import BashOperator\n"


def test_bash_output_streams_to_the_log_and_the_last_line_is_the_xcom(
    write_dag, run_dag, fast_settings
):
    """Output lines reach the task log, the last is the return value; command, env, cwd render."""
    path = write_dag(
        BASH
        + """
with DAG("bash") as dag:
    BashOperator(
        task_id="hello",
        bash_command='echo "first $GREETING"; echo "cwd=$(pwd)" 1>&2; echo "{{ ti.task_id }}"',
        env={"GREETING": "{{ dag.dag_id }}"},
        cwd="/tmp",
    )
"""
    )
    report = run_dag(path)
    ti = by_task(report)["hello"]
    assert (ti.state, ti.return_value) == ("success", "hello")
    log = read_log(fast_settings, report, "hello")
    assert "first bash" in log
    assert "cwd=/tmp" in log


def test_bash_exit_codes_fail_or_skip(write_dag, run_dag):
    """A non-zero exit fails the task naming the code; exit 99 (skip_on_exit_code) skips it."""
    path = write_dag(
        BASH
        + """
with DAG("codes") as dag:
    BashOperator(task_id="fails", bash_command="exit 3")
    BashOperator(task_id="skips", bash_command="exit 99")
    BashOperator(task_id="custom", bash_command="exit 5", skip_on_exit_code=[5, 6])
"""
    )
    tis = by_task(run_dag(path))
    assert tis["fails"].state == "failed"
    assert "The command returned a non-zero exit code 3." in tis["fails"].reason
    assert (tis["skips"].state, tis["custom"].state) == ("skipped", "skipped")


def test_bash_environment_replaces_or_extends(write_dag, run_dag, monkeypatch):
    """An env replaces the runner's environment unless append_env; AIRFLOW_CTX_* are always set."""
    monkeypatch.setenv("INHERITED", "yes")
    path = write_dag(
        BASH
        + """
with DAG("envs") as dag:
    BashOperator(task_id="replaced", env={"A": "1"},
                 bash_command='echo "${INHERITED:-no}-$A-$AIRFLOW_CTX_DAG_ID"')
    BashOperator(task_id="appended", env={"A": "2"}, append_env=True,
                 bash_command='echo "${INHERITED:-no}-$A"')
"""
    )
    tis = by_task(run_dag(path))
    assert tis["replaced"].return_value == "no-1-envs"
    assert tis["appended"].return_value == "yes-2"


def test_task_bash_runs_the_returned_command(write_dag, run_dag):
    """@task.bash calls the function for the command, renders it, and runs it."""
    path = write_dag(
        """
with DAG("task_bash") as dag:
    @task
    def name():
        return "world"

    @task.bash
    def greet(who):
        return f"echo hello {who} on {{{{ ds_nodash }}}}"

    greet(name())
"""
    )
    report = run_dag(path, logical_date=datetime(2026, 5, 6, tzinfo=UTC))
    assert by_task(report)["greet"].return_value == "hello world on 20260506"


def test_stopping_a_bash_task_stops_its_command(write_dag, run_dag, tmp_path):
    """A bash task that times out is stopped with the commands it started."""
    marker = tmp_path / "still-running"
    path = write_dag(
        BASH
        + f"""
with DAG("stop_bash") as dag:
    BashOperator(task_id="slow", execution_timeout=timedelta(seconds=1),
                 bash_command="sleep 3 && touch {marker}")
"""
    )
    ti = by_task(run_dag(path))["slow"]
    assert ti.state == "failed"
    time.sleep(3)
    assert not marker.exists()


def test_virtualenv_task_runs_the_function_in_its_own_environment(write_dag, run_dag, tmp_path):
    """@task.virtualenv runs the function's source in a cached virtualenv with JSON arguments."""
    cache = tmp_path / "venvs"
    path = write_dag(
        f"""
with DAG("venv") as dag:
    @task.virtualenv(system_site_packages=False, venv_cache_path={str(cache)!r})
    def inside(n, label="x"):
        import sys
        return {{"double": n * 2, "label": label, "prefix": sys.prefix}}

    inside(21, label="y")
"""
    )
    value = by_task(run_dag(path))["inside"].return_value
    assert (value["double"], value["label"]) == (42, "y")
    assert value["prefix"].startswith(str(cache))
    assert len(list(cache.iterdir())) == 2  # the virtualenv and its lock file
