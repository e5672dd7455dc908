"""The Execution API as a service: ``airlock api-server`` (uvicorn, one or more workers).

:func:`create_service_app` is the app factory uvicorn imports in each worker process: it reads
the settings, opens the database (whose schema must be current), loads the signing key and
wraps the app in the access log. Nothing is shared between worker processes but the database.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import uvicorn

from airlock.db.connect import open_database
from airlock.db.engine import make_session_factory
from airlock.server.access_log import AccessLogMiddleware
from airlock.server.app import create_app
from airlock.server.signing_key import load_signing_key, signer_from_settings
from airlock.server.worker_auth import WorkerCredentials
from airlock.service_log import configure_service_logging
from airlock.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

APP_FACTORY = "airlock.server.service:create_service_app"


def create_service_app(settings: Settings | None = None) -> FastAPI:
    """Build the Execution API for a deployment, from ``settings`` (default: loaded anew)."""
    settings = settings or Settings.load()
    engine = open_database(settings)
    app = create_app(
        session_factory=make_session_factory(engine),
        signer=signer_from_settings(settings),
        xcom_max_bytes=settings.xcom_max_bytes,
        worker_credentials=WorkerCredentials(load_signing_key(settings)),
    )
    app.add_middleware(AccessLogMiddleware)
    return app


def serve(settings: Settings, *, host: str, port: int, workers: int) -> None:
    """Serve the API until interrupted; with ``workers > 1`` each process builds its own app."""
    configure_service_logging()
    open_database(settings).dispose()  # fail here, once, if the schema is not current
    load_signing_key(settings)  # generate the key once, before workers race to do it
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=10,
    )
