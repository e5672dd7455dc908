"""A task that floods its log cannot exhaust the supervisor or starve the other tries it runs."""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Self

import pytest
from tests.support import by_task, read_log

from airlock.api.client import TaskApi
from airlock.execution.log_sink import MAX_LINE_BYTES

MIB = 1024 * 1024
CAP = 8 * MIB

FLOOD_DAG = """
with DAG("flood") as dag:
    @task
    def flood():
        line = "x" * 99 + "\\n"
        block = line * 10_000          # 1 MB per write
        for _ in range({megabytes}):
            sys.stdout.write(block)
        return "flooded"

    @task
    def one_long_line():
        chunk = "y" * (1024 * 1024)
        for _ in range({long_line_megabytes}):
            sys.stdout.write(chunk)    # no newline at all
        sys.stdout.flush()
        return "long"

    @task
    def steady():
        time.sleep({steady_seconds})
        return "steady"

    flood()
    one_long_line()
    steady()
"""


class RssSampler:
    """Samples this process's resident memory in a thread: the supervisor runs in-process."""

    def __init__(self) -> None:
        self.peak = self.start = _rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, _rss())


def _rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


@pytest.fixture
def heartbeats(monkeypatch):
    """Times of every heartbeat sent, by task instance id."""
    seen: dict[str, list[float]] = {}
    original = TaskApi.heartbeat

    async def recording(self, request):
        seen.setdefault(self.ti_id, []).append(time.monotonic())
        return await original(self, request)

    monkeypatch.setattr(TaskApi, "heartbeat", recording)
    return seen


def test_a_log_flood_is_capped_and_starves_no_other_try(
    write_dag, run_dag, fast_settings, heartbeats
):
    """200 MB of output and a 100 MB line: bounded memory, a capped log, on-time heartbeats."""
    path = write_dag(FLOOD_DAG.format(megabytes=200, long_line_megabytes=100, steady_seconds=4))
    settings = replace(fast_settings, max_log_bytes_per_try=CAP, heartbeat_interval=0.2)
    with RssSampler() as rss:
        report = run_dag(path, settings=settings)
    tis = by_task(report)
    assert {ti.state for ti in tis.values()} == {"success"}
    growth = rss.peak - rss.start
    assert growth < 64 * MIB, f"the supervisor grew by {growth / MIB:.0f} MiB"
    for task_id in ("flood", "one_long_line"):
        log_file = Path(settings.logs_folder).glob(f"**/task_id={task_id}/attempt=1.log")
        size = next(iter(log_file)).stat().st_size
        assert size < CAP * 1.5, (task_id, size)
        log = read_log(settings, report, task_id)
        assert "(setting max_log_bytes_per_try): further output is dropped" in log
        assert "bytes) of task output were dropped" in log
    steady = [times for times in heartbeats.values() if len(times) >= 10]
    assert steady, "the steady task sent too few heartbeats"
    worst_gap = max(b - a for times in steady for a, b in itertools.pairwise(times))
    assert worst_gap < 1.5, f"a heartbeat came {worst_gap:.2f}s after the previous one"
    print(f"\nflood: supervisor RSS +{growth / MIB:.1f} MiB, worst heartbeat gap {worst_gap:.2f}s")


def test_a_long_line_is_cut_into_bounded_pieces(write_dag, run_dag, fast_settings):
    """A line without a newline is written in pieces of at most 64 KiB, each marked as cut."""
    path = write_dag(FLOOD_DAG.format(megabytes=0, long_line_megabytes=1, steady_seconds=0))
    report = run_dag(path)
    log = read_log(fast_settings, report, "one_long_line")
    pieces = [line for line in log.splitlines() if "yyyy" in line]
    assert len(pieces) >= 1024 * 1024 // MAX_LINE_BYTES
    assert all(len(piece) < MAX_LINE_BYTES + 512 for piece in pieces)
    assert "[line cut at 64 KiB]" in log
    assert "were dropped" not in log  # 1 MB is under the default cap of 100 MiB
