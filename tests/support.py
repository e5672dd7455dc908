"""Helpers shared by tests (import them as ``tests.support``)."""

from __future__ import annotations

import socket
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


def all_tries(report: RunReport) -> list[tuple[str, int, str | None, str | None]]:
    """Every try of the run, archived and live: ``(task_id, try_number, state, reason)``, sorted."""
    from sqlalchemy import select  # noqa: PLC0415 -- only tests that read history need it

    from airlock.db.engine import create_db_engine  # noqa: PLC0415
    from airlock.db.models import TaskInstance, TaskInstanceHistory  # noqa: PLC0415

    engine = create_db_engine(report.database_url)
    try:
        with engine.connect() as connection:
            rows = [
                tuple(row)
                for model in (TaskInstanceHistory, TaskInstance)
                for row in connection.execute(
                    select(
                        model.task_id, model.try_number, model.state, model.failure_reason
                    ).where(model.dag_id == report.dag_id, model.run_id == report.run_id)
                )
            ]
    finally:
        engine.dispose()
    return sorted(rows, key=lambda row: (row[0], row[1]))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


JWT_SCAN = r"""
import re
JWT = re.compile(rb"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}")

def jwts_in_memory(pid="self"):
    found = 0
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            span, perms = line.split()[:2]
            if not perms.startswith("r"):
                continue
            start, end = (int(x, 16) for x in span.split("-"))
            try:
                mem.seek(start)
                found += len(JWT.findall(mem.read(end - start)))
            except (OSError, ValueError, OverflowError):
                continue
    return found
"""
"""Task-file source defining ``JWT`` (a pattern of JSON Web Tokens) and ``jwts_in_memory(pid)``,
which counts them in a process's readable memory: put it before a DAG that scans for tokens."""
