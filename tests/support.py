"""Helpers shared by tests (import them as ``tests.support``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airlock.local_run import RunReport
    from airlock.settings import Settings


def by_task(report: RunReport) -> dict[str, Any]:
    """The report's task instances keyed by task id."""
    return {ti.task_id: ti for ti in report.task_instances}


def read_log(settings: Settings, report: RunReport, task_id: str, try_number: int = 1) -> str:
    """The raw text of a try's log file."""
    folder = settings.logs_folder / f"dag_id={report.dag_id}" / f"run_id={report.run_id}"
    return (folder / f"task_id={task_id}" / f"attempt={try_number}.log").read_text()
