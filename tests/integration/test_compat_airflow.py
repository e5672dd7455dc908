"""A DAG file written for Airflow 3 runs unchanged under ``--compat airflow``, end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

from tests.support import by_task

if TYPE_CHECKING:
    from pathlib import Path

AIRFLOW_DAG = """
import pendulum
from airflow.sdk import DAG, task, task_group, setup, teardown, chain, Label
from airflow.exceptions import AirflowSkipException
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.operators.python import PythonOperator
from airflow.utils.trigger_rule import TriggerRule

with DAG("written_for_airflow", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC")):
    @task
    def numbers():
        return [1, 2, 3]

    @task
    def square(x):
        return x * x

    @task
    def total(values):
        return sum(values)

    @task
    def skip_me():
        raise AirflowSkipException("not today")

    @task_group
    def group():
        start = EmptyOperator(task_id="start")
        end = PythonOperator(task_id="end", python_callable=lambda: "done")
        start >> Label("then") >> end

    @setup
    def create():
        return "resource"

    @teardown
    def delete(resource):
        return f"deleted {resource}"

    after = EmptyOperator(task_id="after", trigger_rule=TriggerRule.ALL_DONE)
    res = create()
    chain(total(square.expand(x=numbers())), group(), skip_me(), after)
    res >> after >> delete(res)
"""


def run_cli(*args: str, home: Path, pythonpath: str | None = None):
    """Run the airlock command with a private home."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRLOCK_")}
    env["AIRLOCK_HOME"] = str(home)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    return subprocess.run(
        [sys.executable, "-m", "airlock.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )


def test_an_airflow_dag_file_runs_under_compat(tmp_path, run_dag):
    """Mapping, groups, labels, setup/teardown and skips of an Airflow DAG file work unchanged."""
    path = tmp_path / "airflow_dag.py"
    path.write_text(textwrap.dedent(AIRFLOW_DAG))
    report = run_dag(path, compat="airflow")
    tis = by_task(report)
    assert tis["total"].return_value == 14
    assert tis["group.end"].return_value == "done"
    assert tis["skip_me"].state == "skipped"
    assert tis["after"].state == "success"
    assert tis["delete"].return_value == "deleted resource"
    assert report.state == "success"


def test_the_cli_switch_and_its_refusals(tmp_path):
    """`dags test --compat airflow` runs the file; without it the import fails by name."""
    path = tmp_path / "airflow_dag.py"
    path.write_text(textwrap.dedent(AIRFLOW_DAG))
    report_file = tmp_path / "report.json"
    ok = run_cli(
        "dags",
        "test",
        str(path),
        "--compat",
        "airflow",
        "--json",
        str(report_file),
        home=tmp_path / "home",
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert json.loads(report_file.read_text())["state"] == "success"
    plain = run_cli("dags", "test", str(path), home=tmp_path / "home")
    assert plain.returncode == 2
    assert "No module named 'airflow'" in plain.stdout + plain.stderr


def test_compat_refuses_to_start_next_to_a_real_airflow(tmp_path):
    """With a real Airflow importable, --compat airflow exits 2 and says why."""
    fake = tmp_path / "site"
    (fake / "airflow").mkdir(parents=True)
    (fake / "airflow" / "__init__.py").write_text("")
    path = tmp_path / "airflow_dag.py"
    path.write_text(textwrap.dedent(AIRFLOW_DAG))
    result = run_cli(
        "dags",
        "test",
        str(path),
        "--compat",
        "airflow",
        home=tmp_path / "home",
        pythonpath=str(fake),
    )
    assert result.returncode == 2
    assert "a real Airflow is installed" in result.stdout + result.stderr
