"""Scanning the DAGs folder: parse new and changed files in parallel, store what they define.

Each file is parsed in its own process with a timeout (:func:`parse_dag_file`), several at once;
a file that fails, hangs or crashes its parser is recorded as an import error and never stops
the others. A file is parsed again when its modification time or size changed; a file that
disappeared has its DAGs marked inactive.

Like Airflow's "safe mode", only ``.py`` files whose text mentions ``dag`` and ``airlock`` (or
``airflow``) are parsed, so helper modules in the folder are not imported as DAG files.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from airlock.scheduling.dag_store import forget_file, store_parse_result
from airlock.scheduling.parsing import parse_dag_file

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from sqlalchemy.orm import Session, sessionmaker

    from airlock.definitions.serialized import ParseResult

log = logging.getLogger("airlock.dag_processor")

_MARKERS = (b"airlock", b"airflow")


@dataclass
class ScanReport:
    """What one scan of the folder did."""

    parsed: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)


def find_dag_files(folder: Path) -> list[Path]:
    """Return the DAG files under ``folder`` (recursively), sorted; hidden paths are skipped."""
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.rglob("*.py")):
        relative = path.relative_to(folder).parts
        if any(part.startswith((".", "__")) for part in relative):
            continue
        if _looks_like_dag_file(path):
            found.append(path.resolve())
    return found


def _looks_like_dag_file(path: Path) -> bool:
    try:
        text = path.read_bytes().lower()
    except OSError:
        return False
    return b"dag" in text and any(marker in text for marker in _MARKERS)


class DagFolderProcessor:
    """Keeps the database's DAGs in step with a folder of DAG files.

    Args:
        folder: the DAGs folder.
        sessions: opens database sessions.
        timeout: seconds one file may take to parse.
        processes: files parsed at once.
        clock: the current time (tests pass their own).
    """

    def __init__(
        self,
        folder: Path,
        sessions: sessionmaker[Session],
        *,
        timeout: float = 30.0,
        processes: int = 2,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.folder = folder
        self.sessions = sessions
        self.timeout = timeout
        self.processes = processes
        self.clock = clock
        self._seen: dict[str, tuple[int, int]] = {}

    def scan(self) -> ScanReport:
        """Parse the new and changed files, forget the removed ones; return what happened."""
        report = ScanReport()
        current = {str(path): _stamp(path) for path in find_dag_files(self.folder)}
        changed = [path for path, stamp in current.items() if self._seen.get(path) != stamp]
        for path in set(self._seen) - set(current):
            self._forget(path)
            report.removed.append(path)
        for result in self._parse_all(changed):
            self._store(result)
            report.parsed.append(result.path)
            if result.error is not None:
                report.errors[result.path] = str(result.error)
        self._seen = {path: stamp for path, stamp in current.items() if stamp is not None}
        return report

    def _parse_all(self, paths: list[str]) -> list[ParseResult]:
        if not paths:
            return []
        workers = max(1, min(self.processes, len(paths)))
        with ThreadPoolExecutor(workers, thread_name_prefix="airlock-parse") as pool:
            return list(pool.map(lambda path: parse_dag_file(path, timeout=self.timeout), paths))

    def _store(self, result: ParseResult) -> None:
        if result.error is not None:
            log.warning("DAG file %s could not be parsed: %s", result.path, result.error)
        with self.sessions.begin() as session:
            store_parse_result(session, result, self.clock())

    def _forget(self, path: str) -> None:
        with self.sessions.begin() as session:
            forget_file(session, path)


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size
