"""What ``airlock dags test`` prints: state changes as they happen, then a summary table."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from airlock.local_run import RunReport, StateChange

_STYLES = {
    "success": "green",
    "failed": "bold red",
    "upstream_failed": "red",
    "up_for_retry": "yellow",
    "skipped": "magenta",
    "running": "cyan",
    "queued": "blue",
}
_QUIET_STATES = {None, "scheduled"}


def _style(state: str | None) -> str:
    return _STYLES.get(state or "", "dim")


class ProgressPrinter:
    """Prints one line per task instance state change, with the time since the start."""

    def __init__(self, *, quiet: bool = False, console: Console | None = None) -> None:
        self._console = console or Console(highlight=False)
        self._quiet = quiet
        self._start = time.monotonic()

    def __call__(self, change: StateChange) -> None:
        """Print ``change``."""
        if self._quiet or change.state in _QUIET_STATES:
            return
        elapsed = time.monotonic() - self._start
        name = change.task_id + (f"[{change.map_index}]" if change.map_index >= 0 else "")
        state = f"[{_style(change.state)}]{change.state}[/]"
        tried = f" (try {change.try_number})" if change.try_number > 1 else ""
        reason = f"  {change.reason}" if change.reason and change.state != "success" else ""
        self._console.print(f"[dim]{elapsed:7.2f}s[/]  {name:<32} {state}{tried}{reason}")


def print_summary(report: RunReport, console: Console | None = None) -> None:
    """Print the table of task instances and the run's state."""
    console = console or Console(highlight=False)
    table = Table()
    for column in ("task", "state", "try", "duration"):
        table.add_column(column, justify="right" if column in {"try", "duration"} else "left")
    for ti in report.task_instances:
        name = ti.task_id + (f"[{ti.map_index}]" if ti.map_index >= 0 else "")
        duration = f"{ti.duration:.3f}s" if ti.duration is not None else "-"
        state = f"[{_style(ti.state)}]{ti.state}[/]"
        table.add_row(name, state, str(ti.try_number), duration)
    console.print(table)
    console.print(
        f"DAG run [bold]{report.dag_id}[/] {report.run_id}: "
        f"[{_style(report.state)}]{report.state}[/] in {report.duration:.2f}s"
    )
    failures = [ti for ti in report.task_instances if ti.state == "failed" and ti.reason]
    for ti in failures:
        console.print(f"  [red]{ti.task_id}[/]: {ti.reason}")
