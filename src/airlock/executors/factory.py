"""Choosing the executor the settings name: ``local`` or ``celery``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airlock.executors.local import LocalExecutor

if TYPE_CHECKING:
    from airlock.executors.base import Executor
    from airlock.settings import Settings


def executor_for(settings: Settings) -> Executor:
    """Return the executor ``settings.executor`` names (Celery is imported only when chosen)."""
    if settings.executor == "celery":
        from airlock.executors.celery_executor import CeleryExecutor  # noqa: PLC0415 -- optional

        return CeleryExecutor(settings)
    return LocalExecutor()
