"""LatestOnlyOperator: skip the tasks after it unless the run is the latest scheduled one."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from airlock.operators.branch import BaseBranchOperator

if TYPE_CHECKING:
    from collections.abc import Iterable

    from airlock.definitions.context import Context

log = logging.getLogger(__name__)


class LatestOnlyOperator(BaseBranchOperator):
    """Let the tasks after it run only in the most recent scheduled run of the DAG.

    A run triggered by hand (or one without a data interval) always proceeds. A scheduled run
    proceeds when now falls within the interval that follows its own, that is, when it is the
    latest run the schedule has produced.
    """

    ui_color = "#e9ffdb"

    def choose_branch(self, context: Context) -> str | Iterable[str] | None:
        """Follow every direct downstream task if this run is the latest one, else none."""
        run = context["dag_run"]
        everything = sorted(self.downstream_task_ids)
        if run.run_type == "manual":
            log.info("Manually triggered DAG_Run: allowing execution to proceed.")
            return everything
        start, end = run.data_interval_start, run.data_interval_end
        if start is None or end is None or end <= start:
            log.info("The run has no data interval: allowing execution to proceed.")
            return everything
        now = datetime.now(UTC)
        if not end < now <= end + (end - start):
            log.info("Not latest execution, skipping downstream.")
            return []
        log.info("Latest, allowing execution to proceed.")
        return everything
