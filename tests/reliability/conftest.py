"""Reliability tests run DAGs through the real path: the integration fixtures, shared.

``deployed`` builds a deployment of real processes (:mod:`tests.reliability.deployed`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from tests.integration.conftest import run_dag, write_dag
from tests.reliability.deployed import Deployed

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

__all__ = ["deployed", "run_dag", "write_dag"]


@pytest.fixture
def deployed(tmp_path: Path, database_url: str | None) -> Iterator[Callable[..., Deployed]]:
    """Make a deployment with some settings changed; every process is stopped afterwards.

    Its database is a SQLite file, or a fresh PostgreSQL schema under ``--db postgres``.
    """
    made: list[Deployed] = []

    def make(**settings: str) -> Deployed:
        deployment = Deployed(tmp_path / f"deployment-{len(made)}", database_url, settings)
        made.append(deployment)
        deployment.prepare()
        return deployment

    yield make
    for deployment in made:
        deployment.close()
