"""Many short tasks on several workers, with a random worker SIGKILLed every few seconds.

Real processes: ``airlock api-server``, ``airlock scheduler`` and three ``airlock worker``; every
2 to 4 seconds one worker, chosen at random, is SIGKILLed and a new one started. Each task holds
an exclusive ``flock`` on a file of its own while it runs (the kernel drops it when the process
dies) and appends start/end records (run, task, try, pid, time) to one file with ``O_APPEND``.

Afterwards: every task instance is terminal (success), every success has its return value in
the ``xcom`` table, no task ran twice at once (no try found the lock taken, and no two
completed tries of a task overlap in time), and every process of every killed worker (its fork
server, its runners) was gone within a few seconds.

The size is ``AIRLOCK_LOAD_TASKS`` (default 200, about a minute here). The full run, 2,000
tasks in 20 runs of 100::

    AIRLOCK_LOAD_TASKS=2000 .venv/bin/pytest -s tests/reliability/test_load_with_worker_kills.py
"""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from tests.reliability.deployed import descendants, is_running

if TYPE_CHECKING:
    from tests.reliability.deployed import Deployed

TASKS = int(os.environ.get("AIRLOCK_LOAD_TASKS", "200"))
TASKS_PER_RUN = min(TASKS, 100)
RUNS = -(-TASKS // TASKS_PER_RUN)
WORKERS = 3
PARALLELISM = 4
KILL_EVERY = (2.0, 4.0)
"""Seconds between two worker kills, drawn uniformly."""
CHANCE = random.SystemRandom()
ORPHAN_GRACE = 5.0
"""Seconds a killed worker's fork server and runners get to die."""
TIME_LIMIT = 120.0 + TASKS * 0.6

DAG = """
import fcntl, random

RECORD, LOCKS = {record!r}, {locks!r}

def note(kind, ti):
    line = {{"kind": kind, "run": ti.run_id, "task": ti.task_id, "try": ti.try_number,
             "pid": os.getpid(), "t": time.time()}}
    fd = os.open(RECORD, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.write(fd, (json.dumps(line) + "\\n").encode())
    os.close(fd)

with DAG("load", max_active_tasks=64, max_active_runs=4) as dag:
    @task(retries=5, retry_delay=timedelta(seconds=0))
    def work(**context):
        ti = context["ti"]
        lock = os.open(os.path.join(LOCKS, f"{{ti.run_id}}.{{ti.task_id}}"), os.O_CREAT | os.O_RDWR)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held until this process ends
        except BlockingIOError:
            note("overlap", ti)
            raise AirlockFailException("another try of this task is running right now")
        note("start", ti)
        time.sleep(random.uniform(0.05, 0.25))
        note("end", ti)
        return f"{{ti.run_id}}/{{ti.task_id}}"

    for n in range({tasks}):
        work.override(task_id=f"t{{n:03d}}")()
"""


@dataclass
class Kill:
    """One worker SIGKILLed: when, and the processes it led (pid and start time)."""

    worker: str
    at: float
    tree: set[tuple[int, str]]


@dataclass
class Chaos:
    """Kills a random worker every few seconds and starts a new one in its place."""

    deployment: Deployed
    live: list[str] = field(default_factory=list)
    kills: list[Kill] = field(default_factory=list)
    orphans: list[int] = field(default_factory=list)
    started: int = 0
    next_kill: float = 0.0

    def start_worker(self) -> None:
        """Start one more worker."""
        name = f"worker-{self.started}"
        self.started += 1
        self.deployment.start_worker(name, parallelism=PARALLELISM)
        self.live.append(name)

    def tick(self) -> None:
        """Kill a worker when its time has come; check the processes of earlier kills."""
        now = time.monotonic()
        if now >= self.next_kill:
            self.kill_one()
            self.next_kill = now + CHANCE.uniform(*KILL_EVERY)
        for kill in [k for k in self.kills if now - k.at > ORPHAN_GRACE and k.tree]:
            self.orphans += [pid for pid, start in kill.tree if _start_time(pid) == start]
            kill.tree = set()

    def kill_one(self) -> None:
        """SIGKILL a random worker (not its process group) and start another."""
        victim = CHANCE.choice(self.live)
        pid = self.deployment.processes[victim].pid
        tree = {(p, _start_time(p)) for p in descendants(pid)}
        self.deployment.stop(victim, signal.SIGKILL)
        self.live.remove(victim)
        self.kills.append(Kill(victim, time.monotonic(), tree))
        self.start_worker()


def _start_time(pid: int) -> str:
    """The start time of ``pid`` (``""`` when it is not running): a reused pid differs."""
    if not is_running(pid):
        return ""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except OSError:
        return ""


def _overlaps(events: list[dict]) -> list[str]:
    """Tasks two of whose completed tries overlap in time."""
    spans: dict[tuple[str, str], dict[int, list[float]]] = defaultdict(dict)
    for event in events:
        if event["kind"] in {"start", "end"}:
            spans[event["run"], event["task"]].setdefault(event["try"], []).append(event["t"])
    found = []
    for (run, task), tries in spans.items():
        done = sorted(times for times in tries.values() if len(times) == 2)
        pairs = itertools.pairwise(done)
        found += [f"{run}/{task}" for first, second in pairs if second[0] < first[1]]
    return found


@pytest.mark.slow
@pytest.mark.timeout(TIME_LIMIT + 60)
def test_short_tasks_survive_random_worker_kills(deployed, tmp_path):
    """Every try terminal, every success's XCom stored, none ran twice at once, no orphan."""
    record, locks = tmp_path / "record.jsonl", tmp_path / "locks"
    locks.mkdir()
    deployment = deployed(
        heartbeat_interval="0.5",
        heartbeat_timeout="3",
        heartbeat_max_misses="3",
        queued_timeout="10",
        default_pool_slots=str(WORKERS * PARALLELISM * 2),
    )
    deployment.write_dag(DAG.format(record=str(record), locks=str(locks), tasks=TASKS_PER_RUN))
    deployment.start_api()
    deployment.start_scheduler()
    chaos = Chaos(deployment)
    for _ in range(WORKERS):
        chaos.start_worker()
    started = time.monotonic()
    for n in range(RUNS):
        deployment.trigger("load", run_id=f"load_{n:02d}")
    chaos.next_kill = time.monotonic() + CHANCE.uniform(*KILL_EVERY)
    while not deployment.runs_finished("load"):
        assert time.monotonic() - started < TIME_LIMIT, f"not done after {TIME_LIMIT:g}s"
        chaos.tick()
        time.sleep(0.2)
    took = time.monotonic() - started
    time.sleep(ORPHAN_GRACE)
    chaos.tick()

    tis = deployment.tis("load")
    assert len(tis) == RUNS * TASKS_PER_RUN
    states = defaultdict(int)
    for ti in tis:
        states[ti.state] += 1
    assert states == {"success": len(tis)}, dict(states)
    values = deployment.return_values("load")
    expected = {(ti.run_id, ti.task_id): f"{ti.run_id}/{ti.task_id}" for ti in tis}
    assert values == expected
    events = [json.loads(line) for line in record.read_text().splitlines()]
    assert [e for e in events if e["kind"] == "overlap"] == []
    assert _overlaps(events) == []
    starts = [(e["run"], e["task"], e["try"]) for e in events if e["kind"] == "start"]
    assert len(starts) == len(set(starts)), "a try's user code ran twice"
    assert chaos.orphans == [], "processes of a killed worker outlived it"
    assert len(chaos.kills) >= 1
    lost = deployment.history("load")
    print(
        f"{len(tis)} tasks in {RUNS} runs on {WORKERS} workers x {PARALLELISM}: "
        f"{took:.0f}s ({len(tis) / took:.1f} tasks/s); {len(chaos.kills)} workers SIGKILLed, "
        f"{len(lost)} tries lost with them and retried (max try "
        f"{max(ti.try_number for ti in tis)}), {len(starts)} tries started; "
        "0 overlaps, 0 missing XComs, 0 orphans"
    )
