"""``/workloads/...``: local workers claim queued tries and hand back the ones they stop.

These routes take a **worker credential** (``airlock worker-token``), never a task token. An
API server built without worker credentials answers them with 403 ``workers_disabled``.
"""

from __future__ import annotations

import time
from http import HTTPStatus
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request  # noqa: TC002 -- FastAPI resolves annotations at runtime
from starlette.responses import Response  # noqa: TC002 -- FastAPI resolves annotations at runtime

from airlock.api.workloads import (
    MAX_CLAIM,
    MAX_WAIT,
    WorkloadClaimRequest,
    WorkloadClaimResponse,
    WorkloadReleaseRequest,
    WorkloadReleaseResponse,
    WorkWaitResponse,
)
from airlock.server import claims
from airlock.server.auth import TokenExpiredError, TokenInvalidError
from airlock.server.dependencies import (
    DbSession,
    server_state,
)
from airlock.server.errors import HTTPProblem
from airlock.server.msgspec_io import documented, json_body, json_response
from airlock.server.worker_auth import WorkerCredentials

router = APIRouter(prefix="/workloads", tags=["workers"])

_bearer = HTTPBearer(auto_error=False, description="A worker credential (airlock worker-token).")
_ERRORS = (HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN, HTTPStatus.UNPROCESSABLE_ENTITY)


def worker_name(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """Return the name of the worker whose credential the request carries.

    Raises:
        HTTPProblem: 401 ``missing_token``/``token_expired``; 403 ``invalid_token`` or
            ``workers_disabled``.
    """
    verifier = getattr(request.app.state, "airlock_workers", None)
    if not isinstance(verifier, WorkerCredentials):
        raise HTTPProblem(
            HTTPStatus.FORBIDDEN,
            "workers_disabled",
            "this API server was started without worker credentials: start it with "
            "`airlock api-server` so that local workers can claim tries",
        )
    if credentials is None:
        raise HTTPProblem(
            HTTPStatus.UNAUTHORIZED,
            "missing_token",
            "send the worker credential (airlock worker-token) as 'Authorization: Bearer ...'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        return verifier.verify(credentials.credentials)
    except TokenExpiredError as exc:
        raise HTTPProblem(HTTPStatus.UNAUTHORIZED, "token_expired", str(exc)) from None
    except TokenInvalidError as exc:
        raise HTTPProblem(HTTPStatus.FORBIDDEN, "invalid_token", str(exc)) from None


Worker = Annotated[str, Depends(worker_name)]


@router.post(
    "/claim",
    **documented(request=WorkloadClaimRequest, response=WorkloadClaimResponse, errors=_ERRORS),
)
def claim(
    request: Request,
    worker: Worker,
    body: Annotated[WorkloadClaimRequest, Depends(json_body(WorkloadClaimRequest))],
    session: DbSession,
) -> Response:
    """Claim up to ``slots`` queued tries of the given queues; answer with their workloads."""
    if not 1 <= body.slots <= MAX_CLAIM or not body.queues:
        raise HTTPProblem(
            HTTPStatus.UNPROCESSABLE_ENTITY,
            "invalid_claim",
            f"claim between 1 and {MAX_CLAIM} slots of at least one queue",
        )
    try:
        claims.starting_process(body)
    except ValueError as exc:
        raise HTTPProblem(HTTPStatus.UNPROCESSABLE_ENTITY, "invalid_claim", str(exc)) from None
    workloads = claims.claim(session, worker, body, server_state(request).signer)
    return json_response(WorkloadClaimResponse(workloads=workloads))


@router.post(
    "/release",
    **documented(request=WorkloadReleaseRequest, response=WorkloadReleaseResponse, errors=_ERRORS),
)
def release(
    worker: Worker,
    body: Annotated[WorkloadReleaseRequest, Depends(json_body(WorkloadReleaseRequest))],
    session: DbSession,
) -> Response:
    """Hand back running tries of this worker's host; they are scheduled again."""
    released = claims.release(session, worker, body)
    return json_response(WorkloadReleaseResponse(released=released))


@router.get(
    "/wait",
    **documented(response=WorkWaitResponse, errors=_ERRORS),
)
async def wait_for_work(
    request: Request,
    worker: Worker,  # noqa: ARG001 -- authenticates the caller
    queue: Annotated[list[str], Query(min_length=1, description="A queue served; repeat it.")],
    timeout: Annotated[float, Query(ge=0, le=MAX_WAIT)] = 5.0,  # noqa: ASYNC109 -- a query bound
) -> Response:
    """Answer as soon as queued, unclaimed tries of the queues wait, or after ``timeout`` seconds.

    An idle worker calls this instead of claiming in a loop: it learns of new work within
    milliseconds, and costs nothing while there is none.
    """
    state = server_state(request)
    deadline = time.monotonic() + timeout
    async with state.change_feed.listen() as listener:
        while not await run_in_threadpool(claims.has_work, state.session_factory, queue):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not await listener.next_change(remaining):
                return json_response(WorkWaitResponse(ready=False))
    return json_response(WorkWaitResponse(ready=True))
