"""The control-plane commands: database, DAGs, runs, tasks and pools, with their JSON output."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from airlock.db.connect import open_database
from airlock.db.engine import make_session_factory
from airlock.scheduling.dag_processor import DagFolderProcessor
from airlock.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
AIRLOCK = [sys.executable, "-m", "airlock.cli.main"]
DAG = """\
from datetime import datetime
from airlock import DAG, task

with DAG("cli_dag", schedule="@daily", start_date=datetime(2026, 1, 1)) as dag:
    @task
    def extract():
        return [1, 2, 3]

    @task
    def load(values):
        return sum(values)

    load(extract())
"""


@pytest.fixture
def env(tmp_path, database_url):
    """The environment of the commands: a private home and DAGs folder (and database)."""
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "cli_dag.py").write_text(DAG)
    (dags / "broken_dag.py").write_text("from airlock import DAG\nraise RuntimeError('oops')\n")
    values = {k: v for k, v in os.environ.items() if not k.startswith("AIRLOCK_")}
    values |= {"AIRLOCK_HOME": str(tmp_path / "home"), "AIRLOCK_DAGS_FOLDER": str(dags)}
    if database_url:
        values["AIRLOCK_DATABASE_URL"] = database_url
    return values


def airlock(env, *args, check=True):
    """Run the command; return its completed process."""
    result = subprocess.run(
        [*AIRLOCK, *args],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def as_json(env, *args):
    """Run the command with --json and decode its output."""
    return json.loads(airlock(env, *args, "--json").stdout)


def _parse_once(env):
    old = dict(os.environ)
    os.environ.update(env)
    try:
        settings = Settings.load()
        engine = open_database(settings)
        DagFolderProcessor(settings.dags_folder, make_session_factory(engine)).scan()
        engine.dispose()
    finally:
        os.environ.clear()
        os.environ.update(old)


def test_db_migrate_and_check(env):
    """`db migrate` brings the schema to the current revision and `db check` then agrees."""
    assert "revision" in airlock(env, "db", "migrate").stdout
    assert "current" in airlock(env, "db", "check").stdout
    reset = airlock(env, "db", "reset", check=False)
    assert reset.returncode == 2
    assert "--yes" in reset.stderr


def test_dags_trigger_pause_runs_and_tasks_json(env):
    """The DAG, run and task commands print what scripts need as JSON."""
    airlock(env, "db", "migrate")
    _parse_once(env)
    listing = as_json(env, "dags", "list")
    assert [dag["dag_id"] for dag in listing["dags"]] == ["cli_dag"]
    assert listing["dags"][0]["schedule"] == "@daily"
    (error,) = listing["import_errors"]
    assert error["filename"].endswith("broken_dag.py")
    assert "RuntimeError: oops" in error["message"]
    errors = airlock(env, "dags", "errors", "--json", check=False)
    assert errors.returncode == 1
    assert len(json.loads(errors.stdout)) == 1

    run = as_json(env, "dags", "trigger", "cli_dag", "--conf", '{"x": 1}', "--run-id", "r1")
    assert run == {
        "dag_id": "cli_dag",
        "run_id": "r1",
        "state": "queued",
        "logical_date": run["logical_date"],
        "conf": {"x": 1},
    }
    assert as_json(env, "dags", "pause", "cli_dag") == {"dag_id": "cli_dag", "is_paused": True}
    assert as_json(env, "dags", "list")["dags"][0]["is_paused"] is True
    airlock(env, "dags", "unpause", "cli_dag")

    (listed,) = as_json(env, "runs", "list", "cli_dag")
    assert (listed["run_id"], listed["state"], listed["run_type"]) == ("r1", "queued", "manual")
    tasks = as_json(env, "tasks", "list", "cli_dag")
    assert [(t["task_id"], t["upstream"]) for t in tasks] == [("extract", ""), ("load", "extract")]
    states = as_json(env, "tasks", "states", "cli_dag", "r1")
    assert [(s["task_id"], s["state"]) for s in states] == [("extract", None), ("load", None)]
    cleared = as_json(env, "tasks", "clear", "cli_dag", "r1", "--task-id", "load")
    assert cleared["cleared"] == [{"task_id": "load", "map_index": -1, "previous_state": None}]

    unknown = airlock(env, "dags", "trigger", "nope", check=False)
    assert unknown.returncode == 2
    assert "no DAG 'nope' is known" in unknown.stderr


def test_pools_set_list_delete(env):
    """Pools are created, listed with their occupancy, changed and deleted from the command line."""
    airlock(env, "db", "migrate")
    assert as_json(env, "pools", "set", "etl", "4", "--description", "ETL jobs")["slots"] == 4
    pools = {pool["name"]: pool for pool in as_json(env, "pools", "list")}
    assert pools["etl"] == {
        "name": "etl",
        "slots": 4,
        "occupied": 0,
        "open": 4,
        "description": "ETL jobs",
    }
    airlock(env, "pools", "set", "etl", "6")
    assert {p["name"]: p["slots"] for p in as_json(env, "pools", "list")}["etl"] == 6
    assert as_json(env, "pools", "delete", "etl") == {"name": "etl", "deleted": True}
    assert as_json(env, "pools", "list") == []
    missing = airlock(env, "pools", "delete", "etl", check=False)
    assert missing.returncode == 2
    assert "no pool 'etl'" in missing.stderr


def test_worker_token_is_written_private(env, tmp_path):
    """`worker-token --output` writes a credential only its owner can read."""
    out = tmp_path / "token"
    airlock(env, "worker-token", "--name", "w1", "--output", str(out))
    assert out.stat().st_mode & 0o777 == 0o600
    assert out.read_text().count(".") == 2  # a JWT


@pytest.mark.slow
def test_standalone_runs_a_triggered_dag_and_stops_cleanly_on_ctrl_c(env, tmp_path, unused_port):
    """`airlock standalone` serves, schedules and runs a triggered DAG; SIGINT stops everything."""
    env = env | {
        "AIRLOCK_API_PORT": str(unused_port),
        "AIRLOCK_PARSING_INTERVAL": "0.5",
        "AIRLOCK_SCHEDULER_LOOP_INTERVAL": "0.2",
        "AIRLOCK_WORKER_POLL_INTERVAL": "0.2",
    }
    (Path(env["AIRLOCK_DAGS_FOLDER"]) / "broken_dag.py").unlink()
    proc = subprocess.Popen(
        [*AIRLOCK, "standalone"], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        _wait_for(lambda: _dag_known(env), 60)
        airlock(env, "dags", "trigger", "cli_dag", "--run-id", "standalone")
        _wait_for(lambda: as_json(env, "runs", "list", "cli_dag")[0]["state"] == "success", 60)
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()[-3000:]
    assert b"airlock standalone: API http://127.0.0.1:" in out
    states = as_json(env, "tasks", "states", "cli_dag", "standalone")
    assert {s["state"] for s in states} == {"success"}
    log = json.loads(airlock(env, "tasks", "logs", "cli_dag", "load", "--json").stdout)
    assert any(line.get("event") == "try finished" for line in log["lines"])


def _dag_known(env) -> bool:
    result = airlock(env, "dags", "list", "--json", check=False)
    return result.returncode == 0 and bool(json.loads(result.stdout)["dags"])


def _wait_for(condition, timeout):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout}s")
        time.sleep(0.3)


@pytest.fixture
def unused_port():
    """A loopback port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
