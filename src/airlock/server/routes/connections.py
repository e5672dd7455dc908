"""``/connections/{conn_id}``: how a task reaches an external system.

The token's task instance must be running.
"""

from __future__ import annotations

from http import HTTPStatus

from fastapi import APIRouter
from starlette.responses import Response  # noqa: TC002 -- FastAPI resolves annotations at runtime

from airlock.api.models import ConnectionResponse
from airlock.db.models import Connection
from airlock.server.dependencies import (  # noqa: TC001 -- FastAPI resolves annotations at runtime
    DbSession,
    RunningTaskInstance,
)
from airlock.server.errors import HTTPProblem
from airlock.server.msgspec_io import documented, json_response

router = APIRouter(prefix="/connections", tags=["connections"])

_ERRORS = (
    HTTPStatus.UNAUTHORIZED,
    HTTPStatus.FORBIDDEN,
    HTTPStatus.NOT_FOUND,
    HTTPStatus.GONE,
)


@router.get("/{conn_id}", **documented(response=ConnectionResponse, errors=_ERRORS))
def get_connection(conn_id: str, _ti: RunningTaskInstance, session: DbSession) -> Response:
    """Answer with the Connection's fields, password included: the task needs it."""
    connection = session.get(Connection, conn_id)
    if connection is None:
        raise HTTPProblem(
            HTTPStatus.NOT_FOUND,
            "connection_not_found",
            f"Connection {conn_id!r} is not defined",
        )
    return json_response(_response_of(connection))


def _response_of(connection: Connection) -> ConnectionResponse:
    return ConnectionResponse(
        conn_id=connection.conn_id,
        conn_type=connection.conn_type,
        host=connection.host,
        schema=connection.schema,
        login=connection.login,
        password=connection.password,
        port=connection.port,
        extra=connection.extra,
    )
