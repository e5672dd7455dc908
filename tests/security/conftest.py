"""Security tests reuse the integration fixtures (real runs) and the API fixtures (real app, DB)."""

from __future__ import annotations

from tests.integration.conftest import run_dag, write_dag
from tests.unit.server.conftest import (
    ApiClient,
    Database,
    app,
    client,
    db,
    engine,
    forge,
    running,
    secret,
    session_factory,
    signer,
)

__all__ = [
    "ApiClient",
    "Database",
    "app",
    "client",
    "db",
    "engine",
    "forge",
    "run_dag",
    "running",
    "secret",
    "session_factory",
    "signer",
    "write_dag",
]
