"""A malformed DAG file gives a clear error naming it, within a timeout, and stops nothing else."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from tests.support import by_task, read_log

from airlock.db.engine import create_db_engine, make_session_factory
from airlock.db.migrate import upgrade
from airlock.scheduling.dag_processor import DagFolderProcessor
from airlock.scheduling.dag_store import load_dag
from airlock.scheduling.parsing import parse_dag_file

TIMEOUT = 3.0
HEADER = "import os, sys, time, threading\nfrom airlock import DAG, task\n"
GOOD_DAG = """
with DAG("{dag_id}") as dag:
    @task
    def hello():
        return "hello"

    hello()
"""

# name -> (body, what the error says, the line it names or None)
BROKEN = {
    "syntax": ("def broken(:\n    pass\n", "SyntaxError", 3),
    "import_error": ("import no_such_module_airlock_test\n", "ModuleNotFoundError", 3),
    "runtime_error": ("x = 1 / 0\n", "ZeroDivisionError", 3),
    "cycle": (
        (
            "from airlock import chain\nwith DAG('cyclic') as dag:\n"
            "    @task\n    def a(): pass\n    @task\n    def b(): pass\n"
            "    x, y = a(), b()\n    x >> y >> x\n"
        ),
        "cycle",
        None,
    ),
    "duplicate_ids": ("a = DAG('same')\nb = DAG('same')\n", "DAG id 'same' is used by two DAGs", 4),
    "sleeps_forever": ("time.sleep(3600)\n", f"parsing took longer than {TIMEOUT:g}s", None),
    "sys_exit": ("sys.exit(3)\n", "called sys.exit()", 3),
    "hard_exit": ("os._exit(7)\n", "ended with status 7 before reporting", None),
    "stderr_flood_then_error": (
        "sys.stderr.write('e' * 50_000_000)\nraise RuntimeError('after the flood')\n",
        "RuntimeError: after the flood",
        4,
    ),
}

# Files that misbehave but define a DAG: they must parse, quickly.
NOISY = {
    "stdout_flood": "sys.stdout.write('o' * 50_000_000)\n",
    "stderr_flood": "sys.stderr.write('e' * 50_000_000)\n",
    "forks_a_sleeper": "if os.fork() == 0:\n    time.sleep(3600)\n    os._exit(0)\n",
    "starts_a_thread": "threading.Thread(target=time.sleep, args=(3600,)).start()\n",
    "daemon_thread": "threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()\n",
}


def write(folder: Path, name: str, body: str) -> Path:
    """Write a DAG file with the common imports."""
    path = folder / f"{name}.py"
    path.write_text(HEADER + body)
    return path


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_broken_file_gives_an_error_naming_it(name, tmp_path):
    """Each kind of broken file yields an error with the file's path (and line when known)."""
    body, says, line = BROKEN[name]
    path = write(tmp_path, name, body)
    started = time.monotonic()
    result = parse_dag_file(path, timeout=TIMEOUT)
    assert time.monotonic() - started < TIMEOUT + 2
    assert result.dags == ()
    assert result.error is not None
    assert result.error.path == str(path)
    assert says in result.error.message
    assert len(result.error.message) < 8192  # a flood shows its tail, not megabytes
    if line is not None:
        assert result.error.line == line
    assert str(path) in str(result.error)


@pytest.mark.parametrize("name", sorted(NOISY))
def test_a_noisy_file_still_parses_without_waiting_for_its_leftovers(name, tmp_path):
    """Output floods, forked children and threads started at import do not stall the parse."""
    path = write(tmp_path, name, NOISY[name] + GOOD_DAG.format(dag_id=name))
    started = time.monotonic()
    result = parse_dag_file(path, timeout=TIMEOUT * 5)
    assert time.monotonic() - started < TIMEOUT * 2
    assert result.error is None
    assert [dag.dag_id for dag in result.dags] == [name]


def test_broken_files_never_stop_the_other_dags_of_the_folder(tmp_path):
    """A folder scan records an error for each broken file and stores the good DAGs all the same."""
    folder = tmp_path / "dags"
    folder.mkdir()
    for name, (body, _, _) in BROKEN.items():
        write(folder, name, body + "# a dag file\n")
    for name, body in NOISY.items():
        write(folder, name, body + GOOD_DAG.format(dag_id=name))
    write(folder, "good", GOOD_DAG.format(dag_id="good"))
    engine = create_db_engine(f"sqlite:///{tmp_path / 'scan.db'}")
    upgrade(engine)
    sessions = make_session_factory(engine)
    try:
        report = DagFolderProcessor(folder, sessions, timeout=TIMEOUT, processes=4).scan()
        with sessions() as session:
            stored = {dag_id for dag_id in [*NOISY, "good"] if load_dag(session, dag_id)}
    finally:
        engine.dispose()
    assert sorted(Path(path).name for path in report.errors) == sorted(
        f"{name}.py" for name in BROKEN
    )
    assert stored == {*NOISY, "good"}


def test_dags_test_names_a_broken_file_and_gives_up_on_a_hanging_one(tmp_path):
    """`airlock dags test` on a broken or hanging file exits non-zero with the file in its error."""
    env = {**os.environ, "AIRLOCK_PARSING_TIMEOUT": str(TIMEOUT)}
    for name in ("syntax", "sleeps_forever", "sys_exit"):
        path = write(tmp_path, name, BROKEN[name][0])
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "airlock.cli.main", "dags", "test", str(path)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert time.monotonic() - started < TIMEOUT + 20
        assert done.returncode != 0, name
        assert str(path) in done.stdout + done.stderr, name


PRELOAD_HANG = """
def _in_fork_server():
    own = open("/proc/self/cmdline", "rb").read()
    parent = open(f"/proc/{os.getppid()}/cmdline", "rb").read()
    return b"airlock.execution.forkserver" in own and b"forkserver" not in parent

if _in_fork_server():
    time.sleep(3600)  # hangs only where the fork server preloads it

with DAG("preload_hang") as dag:
    @task
    def first():
        return 1

    @task
    def second(x):
        return x + 1

    second(first())
"""


def test_a_file_hanging_in_the_fork_server_preload_does_not_hang_it(
    write_dag, run_dag, fast_settings
):
    """The fork server gives up a hanging preload after parsing_timeout and keeps serving."""
    settings = replace(fast_settings, parsing_timeout=2.0)
    started = time.monotonic()
    report = run_dag(write_dag(PRELOAD_HANG), settings=settings)
    elapsed = time.monotonic() - started
    assert by_task(report)["second"].return_value == 2
    assert elapsed < 20  # one preload timeout, not one per task, and nowhere near an hour
    assert "the runner imports the DAG file itself" in read_log(settings, report, "second")
