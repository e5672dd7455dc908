"""The command line: the example pipeline end to end, its exit codes, report and logs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AIRLOCK = [sys.executable, "-m", "airlock.cli.main"]


def run_cli(*args: str, home: Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the airlock command with a private home; never raises on a non-zero exit."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRLOCK_")}
    env["AIRLOCK_HOME"] = str(home)
    env["ETL_OUTPUT_DIR"] = str(home / "output")
    return subprocess.run(
        [*AIRLOCK, *args],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd or ROOT,
        timeout=120,
    )


def test_example_pipeline_runs_end_to_end(tmp_path):
    """`airlock dags test examples/etl.py` succeeds, shows progress and a table, writes a report."""
    report_path = tmp_path / "report.json"
    result = run_cli("dags", "test", "examples/etl.py", "--json", str(report_path), home=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "running" in result.stdout
    assert "example_etl" in result.stdout
    assert "success" in result.stdout
    report = json.loads(report_path.read_text())
    assert report["state"] == "success"
    tis = {ti["task_id"]: ti for ti in report["task_instances"]}
    assert list(tis) == ["extract", "transform", "load", "report"]
    assert tis["transform"]["return_value"] == {"ada": 42.5, "grace": 7.25, "linus": 3.1}
    assert tis["report"]["return_value"] == {"customers": 3, "revenue": 52.85}
    assert all(ti["state"] == "success" and ti["try_number"] == 1 for ti in tis.values())
    assert all(ti["map_index"] == -1 for ti in tis.values())
    written = json.loads(Path(tis["load"]["return_value"]).read_text())
    assert written == tis["transform"]["return_value"]


def test_failed_run_exits_1_and_logs_are_readable(tmp_path):
    """A failing DAG exits 1, and `airlock tasks logs` prints the failed try's log."""
    dag = tmp_path / "fails.py"
    dag.write_text(
        "from airlock import DAG, task\n"
        "with DAG('fails') as dag:\n"
        "    @task\n"
        "    def boom():\n"
        "        print('about to fail')\n"
        "        raise RuntimeError('kaput')\n"
        "    boom()\n"
    )
    result = run_cli("dags", "test", str(dag), home=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "RuntimeError: kaput" in result.stdout
    logs = run_cli("tasks", "logs", "fails", "boom", home=tmp_path)
    assert logs.returncode == 0, logs.stderr
    assert "about to fail" in logs.stdout
    assert "RuntimeError: kaput" in logs.stdout


def test_broken_dag_file_names_file_and_line(tmp_path):
    """A DAG file that fails to import exits 2 with the file and line in the error."""
    dag = tmp_path / "broken.py"
    dag.write_text("from airlock import DAG\n\nx = 1\nundefined_name()\n")
    result = run_cli("dags", "test", str(dag), home=tmp_path)
    assert result.returncode == 2
    assert f"{dag}:4: NameError" in result.stderr


def test_bad_conf_is_a_usage_error(tmp_path):
    """--conf that is not a JSON object is refused before anything runs."""
    result = run_cli("dags", "test", "examples/etl.py", "--conf", "[1]", home=tmp_path)
    assert result.returncode == 2
    assert "--conf must be a JSON object" in result.stderr
