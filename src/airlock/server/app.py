"""Build the Execution API application: routes, auth, token refresh, errors and docs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airlock.api.models import API_PREFIX
from airlock.db.changes import ChangeWatcher
from airlock.exceptions import ConfigError
from airlock.server.change_feed import ChangeFeed
from airlock.server.dependencies import ServerState
from airlock.server.errors import install_error_handlers
from airlock.server.openapi import ExecutionApi
from airlock.server.refresh import TokenRefreshMiddleware
from airlock.server.request_guard import RequestGuardMiddleware
from airlock.server.routes import (
    connections,
    health,
    task_instance_actions,
    task_instances,
    variables,
    workloads,
    xcom_sequences,
    xcoms,
)

if TYPE_CHECKING:
    from fastapi import FastAPI
    from sqlalchemy.orm import Session, sessionmaker

    from airlock.server.auth import TokenSigner
    from airlock.server.worker_auth import WorkerCredentials

DEFAULT_XCOM_MAX_BYTES = 48 * 1024 * 1024
_ROUTERS = (
    health,
    task_instances,
    task_instance_actions,
    xcoms,
    xcom_sequences,
    variables,
    connections,
    workloads,
)


def create_app(
    *,
    session_factory: sessionmaker[Session],
    signer: TokenSigner,
    xcom_max_bytes: int = DEFAULT_XCOM_MAX_BYTES,
    worker_credentials: WorkerCredentials | None = None,
) -> FastAPI:
    """Return the Execution API as an ASGI application, served under ``/execution/api/v1``.

    Args:
        session_factory: opens the database sessions (one per request); see
            :func:`airlock.db.engine.make_session_factory`.
        signer: verifies the tokens of requests and mints refreshed execution tokens.
        xcom_max_bytes: the largest XCom value, in bytes of JSON, a task may store.
        worker_credentials: verifies local workers' credentials on ``/workloads/...``;
            without it those routes answer 403.

    Raises:
        ConfigError: ``xcom_max_bytes`` is not positive.
    """
    if xcom_max_bytes <= 0:
        raise ConfigError(f"xcom_max_bytes must be positive, got {xcom_max_bytes}")
    app = ExecutionApi(
        title="airlock Execution API",
        version=health.VERSION,
        description="What a task instance's supervisor may do on the task instance's behalf.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    app.state.airlock = ServerState(
        session_factory=session_factory,
        signer=signer,
        xcom_max_bytes=xcom_max_bytes,
        change_feed=ChangeFeed(ChangeWatcher.for_engine(session_factory.kw["bind"])),
    )
    app.state.airlock_workers = worker_credentials
    for module in _ROUTERS:
        app.include_router(module.router, prefix=API_PREFIX)
    app.add_middleware(TokenRefreshMiddleware, signer=signer)
    app.add_middleware(RequestGuardMiddleware, serialize_writes=_is_sqlite(session_factory))
    install_error_handlers(app)
    return app


def _is_sqlite(session_factory: sessionmaker[Session]) -> bool:
    bind = session_factory.kw.get("bind")
    return bind is not None and bind.dialect.name == "sqlite"
