"""With ``run_as_user`` (or ``default_run_as_user``) the runner runs as that Unix user.

A throwaway user is created for the session (as root; otherwise the tests skip). The runner must
still write its log and answer its supervisor, and must no longer be able to read the memory of
the process that started it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from tests.integration.conftest import DAG_HEADER
from tests.support import by_task, read_log

if TYPE_CHECKING:
    import pwd

WHOAMI = """
with DAG("whoami") as dag:
    @task{task_args}
    def whoami():
        print("running as", os.getuid())
        try:
            with open(f"/proc/{{os.getppid()}}/mem", "rb") as mem:
                mem.read(1)
            parent_memory = "readable"
        except OSError as exc:
            parent_memory = type(exc).__name__
        return {{
            "uid": os.getuid(),
            "euid": os.geteuid(),
            "gid": os.getgid(),
            "groups": os.getgroups(),
            "home": os.environ.get("HOME"),
            "user": os.environ.get("USER"),
            "parent_memory": parent_memory,
        }}

    whoami()
"""


@pytest.fixture
def public_dag(tmp_path_factory):
    """Write a DAG file where any user can read it (pytest's own tmp folders are private)."""
    folder = Path(tempfile.mkdtemp(prefix="airlock-run-as-"))
    folder.chmod(0o755)

    def write(body: str) -> Path:
        path = folder / "whoami.py"
        path.write_text(DAG_HEADER + body)
        path.chmod(0o644)
        return path

    yield write
    shutil.rmtree(folder)


def interpreter_usable_by(user: pwd.struct_passwd) -> bool:
    """Whether ``user`` can start this Python (it may live in root's private home)."""
    try:
        subprocess.run(
            [sys.executable, "-c", "import airlock"],
            user=user.pw_uid,
            group=user.pw_gid,
            extra_groups=[],
            check=True,
            capture_output=True,
        )
    except (PermissionError, subprocess.CalledProcessError):
        return False
    return True


@pytest.fixture(params=["fork", "exec"])
def runner_start(request, throwaway_user):
    """Each launcher; exec'd runners need an interpreter the user may run."""
    if request.param == "exec" and not interpreter_usable_by(throwaway_user):
        pytest.skip(f"{sys.executable} is not readable by other users, so no exec'd runner can")
    return request.param


def test_a_task_runs_as_its_run_as_user(
    throwaway_user, public_dag, run_dag, fast_settings, runner_start
):
    """The task's uid, gid, groups and HOME are the user's; its log is written; no ptrace."""
    task_args = f"(run_as_user={throwaway_user.pw_name!r})"
    settings = replace(fast_settings, runner_start=runner_start)
    report = run_dag(public_dag(WHOAMI.format(task_args=task_args)), settings=settings)
    found = by_task(report)["whoami"].return_value
    assert found == {
        "uid": throwaway_user.pw_uid,
        "euid": throwaway_user.pw_uid,
        "gid": throwaway_user.pw_gid,
        "groups": [throwaway_user.pw_gid],
        "home": throwaway_user.pw_dir,
        "user": throwaway_user.pw_name,
        "parent_memory": "PermissionError",
    }
    log = read_log(settings, report, "whoami")
    assert f"running as {throwaway_user.pw_uid}" in log
    assert f'"run_as_user":"{throwaway_user.pw_name}"' in log


def test_the_default_run_as_user_setting_applies(
    throwaway_user, public_dag, run_dag, fast_settings
):
    """default_run_as_user runs every task that names no user of its own as that user."""
    settings = replace(fast_settings, default_run_as_user=throwaway_user.pw_name)
    report = run_dag(public_dag(WHOAMI.format(task_args="")), settings=settings)
    assert by_task(report)["whoami"].return_value["uid"] == throwaway_user.pw_uid


def test_an_unknown_user_fails_the_try_clearly(public_dag, run_dag, fast_settings):
    """A run_as_user that does not exist fails the try, naming the user, without a runner."""
    task_args = "(run_as_user='no-such-user-airlock')"
    report = run_dag(public_dag(WHOAMI.format(task_args=task_args)))
    ti = by_task(report)["whoami"]
    assert ti.state == "failed"
    assert "run_as_user 'no-such-user-airlock' is not a user on this host" in ti.reason
