"""A scheduler process for tests: ``python recording_scheduler.py OUT SECONDS``.

It runs the real :class:`~airlock.scheduling.scheduler.Scheduler` (settings from the
environment) for SECONDS, and appends one JSON line per workload it sends to OUT, so a test can
count how often each try was queued across several schedulers.
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

from airlock.db.connect import open_database
from airlock.db.engine import make_session_factory
from airlock.scheduling.scheduler import Scheduler
from airlock.server.signing_key import signer_from_settings
from airlock.settings import Settings


class FileRecorder:
    """An executor that writes every workload it is sent to a file."""

    def __init__(self, path: Path) -> None:
        self._out = path.open("a")

    def send(self, workload, *, queue: str) -> None:
        """Record the workload."""
        line = {
            "ti": workload.ti.id,
            "task": workload.ti.task_id,
            "run": workload.ti.run_id,
            "try": workload.ti.try_number,
            "queue": queue,
        }
        self._out.write(json.dumps(line) + "\n")
        self._out.flush()

    def close(self) -> None:
        """Close the file."""
        self._out.close()


def main(out: str, seconds: str) -> None:
    """Run a scheduler for ``seconds``, recording its sends in ``out``."""
    settings = Settings.load()
    engine = open_database(settings)
    scheduler = Scheduler(
        settings,
        make_session_factory(engine),
        signer=signer_from_settings(settings),
        executor=FileRecorder(Path(out)),
    )
    stop = threading.Event()
    threading.Timer(float(seconds), stop.set).start()
    scheduler.run(stop)
    engine.dispose()


if __name__ == "__main__":
    main(*sys.argv[1:3])
