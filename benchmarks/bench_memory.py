"""Memory: PSS added per running task, with many tasks sleeping at once on one worker.

Runs `airlock dags test benchmarks/dags/sleepers.py` twice — with 1 sleeping task and with
BENCH_TASKS (default 200) — and, while the tasks sleep, sums the PSS (proportional set size:
shared pages divided among the processes sharing them) of the whole process tree: the command
(scheduler, API, supervisor), the fork server and every runner. The difference divided by the
extra tasks is the memory one more running task costs.

Usage: .venv/bin/python benchmarks/bench_memory.py [--tasks N] [--sleep S]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def pss_kib(pid: int) -> int:
    """The PSS of one process in KiB (0 if it is gone)."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def peak_tree_pss(tasks: int, sleep: float) -> tuple[int, int]:
    """Run ``tasks`` sleepers; return the tree's peak PSS (KiB) and the most processes seen."""
    with tempfile.TemporaryDirectory() as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRLOCK_")}
        env.update(AIRLOCK_HOME=home, BENCH_TASKS=str(tasks), BENCH_SLEEP=str(sleep))
        command = [sys.executable, "-m", "airlock.cli.main", "dags", "test"]
        proc = subprocess.Popen(
            [*command, "benchmarks/dags/sleepers.py", "--quiet", "--parallelism", str(tasks)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
        peak, most = 0, 0
        while proc.poll() is None:
            tree = descendants(proc.pid)
            if len(tree) >= most:
                most = len(tree)
                peak = max(peak, sum(pss_kib(pid) for pid in tree))
            time.sleep(0.5)
        return peak, most


def main() -> None:
    """Print the PSS of the baseline, of the loaded worker, and per extra task."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--sleep", type=float, default=20.0)
    args = parser.parse_args()
    base, base_procs = peak_tree_pss(1, args.sleep)
    loaded, loaded_procs = peak_tree_pss(args.tasks, args.sleep)
    per_task = (loaded - base) / (args.tasks - 1) / 1024
    print(f"1 sleeping task:   {base / 1024:7.1f} MiB PSS in {base_procs} processes")
    print(f"{args.tasks} sleeping tasks: {loaded / 1024:7.1f} MiB PSS in {loaded_procs} processes")
    print(f"PSS added per running task: {per_task:.2f} MiB")


if __name__ == "__main__":
    main()
