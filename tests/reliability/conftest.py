"""Reliability tests run DAGs through the real path: the integration fixtures, shared."""

from __future__ import annotations

from tests.integration.conftest import run_dag, write_dag

__all__ = ["run_dag", "write_dag"]
