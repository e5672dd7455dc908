"""Tokens end with their try, and the runner cannot find one in its supervisor's process either.

``tests/integration/test_tokens.py`` shows a token refreshed while its try runs; here is the
other half: once the try has ended, its last token is refused and never refreshed. And
``tests/integration/test_isolation.py`` reads the runner's own environment, argv, fds and
memory, and its parent's environment and argv; here the supervisor's are read when the parent is
the fork server (forked runners) as well as when it is the supervisor itself (exec'd runners).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import httpx
import pytest
from tests.support import by_task

from airlock import local_run
from airlock.api.client import REFRESHED_TOKEN_HEADER, TaskApi
from airlock.api.models import API_PREFIX

LONG_TASK = """
with DAG("tokens_end") as dag:
    @task
    def long_one():
        time.sleep(3)
        Variable.set("token_test", "still allowed")
        return Variable.get("token_test")

    long_one()
"""


@pytest.fixture
def captured(monkeypatch):
    """The API app the run serves, and the last token each try's supervisor held."""
    found: dict[str, object] = {"tokens": {}}
    make_app = local_run.create_app

    def keep_app(**kwargs):
        found["app"] = make_app(**kwargs)
        return found["app"]

    send = TaskApi._send

    async def keep_token(self, method, path, content=None):
        response = await send(self, method, path, content)
        found["tokens"][self.ti_id] = self._token
        return response

    monkeypatch.setattr(local_run, "create_app", keep_app)
    monkeypatch.setattr(TaskApi, "_send", keep_token)
    return found


def test_the_last_token_of_an_ended_try_is_refused_and_not_refreshed(
    write_dag, run_dag, fast_settings, captured
):
    """After its try ended, a (refreshed) token is refused everywhere and gets no new token."""
    settings = replace(fast_settings, token_lifetime=2.0, heartbeat_interval=0.3)
    report = run_dag(write_dag(LONG_TASK), settings=settings)
    assert by_task(report)["long_one"].return_value == "still allowed"  # refresh did work
    ((ti_id, token),) = captured["tokens"].items()
    time.sleep(1.1)  # past half its life: a live try would be offered a new token now
    answers = asyncio.run(_use_token(captured["app"], ti_id, token))
    for name, answer in answers.items():
        assert answer.status_code in {401, 403, 409}, (name, answer.text)
        assert REFRESHED_TOKEN_HEADER not in answer.headers, name


async def _use_token(app, ti_id: str, token: str) -> dict[str, httpx.Response]:
    headers = {"Authorization": f"Bearer {token}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://airlock") as client:
        base = f"{API_PREFIX}/task-instances/{ti_id}"
        return {
            "heartbeat": await client.put(
                f"{base}/heartbeat", headers=headers, json={"hostname": "h", "pid": 1}
            ),
            "variable": await client.get(f"{API_PREFIX}/variables/token_test", headers=headers),
            "state": await client.patch(f"{base}/state", headers=headers, json={"state": "failed"}),
        }


SUPERVISOR_SCAN = r"""
import re
JWT = re.compile(rb"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}")

def parent_of(pid):
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[1])

def cmdline(pid):
    return open(f"/proc/{pid}/cmdline", "rb").read()

with DAG("supervisor_scan") as dag:
    @task
    def scan():
        parent = os.getppid()
        supervisor = parent_of(parent) if b"forkserver" in cmdline(parent) else parent
        found = {
            "environ": open(f"/proc/{supervisor}/environ", "rb").read(),
            "cmdline": cmdline(supervisor),
        }
        return {
            "supervisor_is_pytest": b"pytest" in found["cmdline"],
            "read": {name: len(data) for name, data in found.items()},
            "jwt_in": sorted(name for name, data in found.items() if JWT.search(data)),
        }

    scan()
"""


@pytest.mark.parametrize("runner_start", ["fork", "exec"])
def test_the_supervisors_environment_and_argv_hold_no_token(
    write_dag, run_dag, fast_settings, runner_start
):
    """The runner reads its supervisor's /proc environ and cmdline: no token in either."""
    settings = replace(fast_settings, runner_start=runner_start)
    found = by_task(run_dag(write_dag(SUPERVISOR_SCAN), settings=settings))["scan"].return_value
    assert found["supervisor_is_pytest"]  # the scan reached the supervisor, not the fork server
    assert all(size > 0 for size in found["read"].values())
    assert found["jwt_in"] == []
