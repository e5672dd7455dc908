"""The runner holds no token and imports nothing of the server side."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support import JWT_SCAN, by_task

SERVER_SIDE = ["fastapi", "sqlalchemy", "httpx", "jwt", "uvicorn", "starlette", "alembic"]

SCAN_TASK = (
    JWT_SCAN
    + r"""
def _fd_targets():
    out = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            out.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            pass
    return out

with DAG("snoop") as dag:
    @task
    def snoop():
        parent = os.getppid()
        found = {
            "environ": open("/proc/self/environ", "rb").read(),
            "cmdline": open("/proc/self/cmdline", "rb").read(),
            "parent_environ": open(f"/proc/{parent}/environ", "rb").read(),
            "parent_cmdline": open(f"/proc/{parent}/cmdline", "rb").read(),
        }
        files = b""
        for target in _fd_targets():
            if target.startswith("/") and os.path.isfile(target):
                files += open(target, "rb").read()
        found["open_files"] = files
        return {
            "jwt_in": sorted(k for k, v in found.items() if JWT.search(v)),
            "memory_hits": jwts_in_memory(),
            "fd_targets": _fd_targets(),
            "server_modules": sorted(
                m for m in sys.modules if m.split(".")[0] in %(server_side)r
            ),
        }

    snoop()
"""
)


def test_runner_never_sees_a_token(write_dag, run_dag):
    """No JWT is in the runner's environment, argv, open files, memory, or its parent's env/argv."""
    path = write_dag(SCAN_TASK % {"server_side": SERVER_SIDE})
    report = run_dag(path)
    found = by_task(report)["snoop"].return_value
    assert report.state == "success"
    assert found["jwt_in"] == []
    assert found["memory_hits"] == 0
    assert found["server_modules"] == []


def test_runner_fds_are_only_its_channels(write_dag, run_dag):
    """The runner's open fds are its socket, pipes and /dev/null: no database or log file."""
    path = write_dag(SCAN_TASK % {"server_side": SERVER_SIDE})
    targets = by_task(run_dag(path))["snoop"].return_value["fd_targets"]
    unexpected = [
        t
        for t in targets
        if not t.startswith(("socket:", "pipe:", "/dev/null", "anon_inode:")) and "/proc/" not in t
    ]
    assert unexpected == []


def test_runner_side_modules_import_nothing_of_the_server_side():
    """Importing every runner-side module leaves fastapi, sqlalchemy, httpx and jwt unloaded."""
    code = (
        "import sys, json\n"
        "import airlock, airlock.execution.runner, airlock.definitions.loader\n"
        "import airlock.definitions.serialization, airlock.scheduling.parse_worker\n"
        "from airlock import DAG, task, BaseOperator, Variable, Connection\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {SERVER_SIDE!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, text=True)
    assert json.loads(out.stdout) == []
