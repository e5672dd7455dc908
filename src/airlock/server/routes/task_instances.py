"""``/task-instances/{ti_id}/...``: start a try, report how it ended, and keep it alive.

Each route needs a token minted for ``ti_id``. ``/run`` takes the workload token the try was
queued with (or an execution token, when repeated) and answers with an execution token in the
``Refreshed-API-Token`` header; the other routes take only that execution token.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.requests import Request  # noqa: TC002 -- FastAPI resolves annotations at runtime
from starlette.responses import Response

from airlock.api.models import (
    HeartbeatRequest,
    TIRunContext,
    TIRunRequest,
    TIStateUpdate,
)
from airlock.server import transitions
from airlock.server.dependencies import (  # noqa: TC001 -- FastAPI resolves annotations at runtime
    DbSession,
    RunClaims,
    TaskInstanceClaims,
)
from airlock.server.msgspec_io import documented, json_body, json_response
from airlock.server.refresh import withdraw_refreshed_token

router = APIRouter(prefix="/task-instances", tags=["task instances"])

_AUTH_ERRORS = (
    HTTPStatus.UNAUTHORIZED,
    HTTPStatus.FORBIDDEN,
    HTTPStatus.NOT_FOUND,
    HTTPStatus.CONFLICT,
    HTTPStatus.GONE,
    HTTPStatus.UNPROCESSABLE_ENTITY,
)


@router.patch(
    "/{ti_id}/run",
    **documented(request=TIRunRequest, response=TIRunContext, errors=_AUTH_ERRORS),
)
def run(
    ti_id: str,
    _claims: RunClaims,
    body: Annotated[TIRunRequest, Depends(json_body(TIRunRequest))],
    session: DbSession,
) -> Response:
    """Start a queued try in the process named by the body; answer with its run context.

    Repeated by the same host, user and pid while the try runs, it answers the same again.
    """
    return json_response(transitions.start(session, ti_id, body))


@router.patch(
    "/{ti_id}/state",
    **documented(request=TIStateUpdate, status_code=HTTPStatus.NO_CONTENT, errors=_AUTH_ERRORS),
)
def finish(
    ti_id: str,
    _claims: TaskInstanceClaims,
    body: Annotated[TIStateUpdate, Depends(json_body(TIStateUpdate))],
    session: DbSession,
    request: Request,
) -> Response:
    """End a running try as success, failed, skipped or up_for_retry."""
    transitions.finish(session, ti_id, body)
    withdraw_refreshed_token(request)
    return Response(status_code=HTTPStatus.NO_CONTENT)


@router.put(
    "/{ti_id}/heartbeat",
    **documented(request=HeartbeatRequest, status_code=HTTPStatus.NO_CONTENT, errors=_AUTH_ERRORS),
)
def heartbeat(
    ti_id: str,
    _claims: TaskInstanceClaims,
    body: Annotated[HeartbeatRequest, Depends(json_body(HeartbeatRequest))],
    session: DbSession,
) -> Response:
    """Record that the running try is alive in the process that started it."""
    transitions.heartbeat(session, ti_id, body)
    return Response(status_code=HTTPStatus.NO_CONTENT)
