"""Integration fixtures: run a DAG written in the test through the real two-process path."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from airlock.local_run import LocalDagRun, LocalRunOptions, RunReport, StateChange

if TYPE_CHECKING:
    from pathlib import Path

    from airlock.settings import Settings

DAG_HEADER = """\
import os, sys, time, signal, logging, json
from datetime import datetime, timedelta
from airlock import DAG, BaseOperator, task, Variable, Connection
from airlock import AirlockSkipException, AirlockFailException
"""

RunDag = Callable[..., RunReport]


@pytest.fixture
def write_dag(tmp_path: Path) -> Callable[[str], Path]:
    """Write a DAG file (the common imports are prepended) and return its path."""

    def write(body: str, name: str = "dag_under_test.py") -> Path:
        path = tmp_path / "dags" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(DAG_HEADER + textwrap.dedent(body))
        return path

    return write


@pytest.fixture
def run_dag(fast_settings: Settings) -> Callable[..., RunReport]:
    """Run a DAG file end to end; returns the report (``changes`` collects the progress)."""

    def run(
        dag_file: Path,
        *,
        settings: Settings | None = None,
        changes: list[StateChange] | None = None,
        **options: Any,
    ) -> RunReport:
        local = LocalDagRun(
            LocalRunOptions(dag_file=dag_file, **options),
            settings or fast_settings,
            on_change=changes.append if changes is not None else None,
        )
        return local.run()

    return run
