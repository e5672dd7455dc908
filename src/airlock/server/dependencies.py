"""FastAPI dependencies: the request's database session, its token, and what the token allows.

The checks run in this order, and the first that fails answers:

1. a Bearer token is present (401 ``missing_token``);
2. it verifies (401 ``token_expired``, 403 ``invalid_token``);
3. its scope fits the route: ``workload`` only on ``/run`` (403 ``wrong_scope``);
4. on ``/task-instances/{ti_id}/...``, it was minted for ``ti_id`` (403 ``wrong_task_instance``);
5. on the XCom, Variable and Connection routes, its task instance is running
   (403 ``task_instance_not_running``, or 410 ``task_instance_archived`` for an earlier try).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Query
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request  # noqa: TC002 -- FastAPI resolves annotations at runtime

from airlock.api.models import INT32_MAX, INT32_MIN
from airlock.db.engine import READ_ONLY
from airlock.db.models import TaskInstance
from airlock.server.auth import TokenClaims, TokenExpiredError, TokenInvalidError, TokenSigner
from airlock.server.errors import HTTPProblem
from airlock.server.refresh import offer_refreshed_token
from airlock.server.transitions import archived_problem, is_archived
from airlock.states import TaskInstanceState

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airlock.server.change_feed import ChangeFeed

_READ_METHODS = frozenset({"GET", "HEAD"})
_bearer = HTTPBearer(
    auto_error=False,
    description="The task instance's JWT: a workload token for /run, else an execution token.",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerState:
    """What the routes share, kept on ``app.state.airlock``.

    Attributes:
        session_factory: makes the one database session of each request.
        signer: verifies and mints task instance tokens.
        xcom_max_bytes: the largest XCom value accepted.
        change_feed: wakes requests waiting for the database to change.
    """

    session_factory: sessionmaker[Session]
    signer: TokenSigner
    xcom_max_bytes: int
    change_feed: ChangeFeed


def server_state(request: Request) -> ServerState:
    """Return the :class:`ServerState` of the app serving ``request``."""
    state = request.app.state.airlock
    if not isinstance(state, ServerState):
        raise TypeError("the app was not built by airlock.server.create_app")
    return state


def database_session(request: Request) -> Iterator[Session]:
    """Yield the request's session, in one transaction committed before the answer is sent.

    An exception rolls the transaction back. ``GET`` requests only read, so on SQLite their
    transaction does not take the write lock.
    """
    with server_state(request).session_factory.begin() as session:
        if request.method in _READ_METHODS:
            session.connection(execution_options={READ_ONLY: True})
        yield session


DbSession = Annotated[Session, Depends(database_session, scope="function")]
"""The request's database session (one transaction, committed before the answer)."""


async def token_claims(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> TokenClaims:
    """Return the verified claims of the request's Bearer token.

    Raises:
        HTTPProblem: 401 ``missing_token`` or ``token_expired``; 403 ``invalid_token``.
    """
    if credentials is None:
        raise HTTPProblem(
            HTTPStatus.UNAUTHORIZED,
            "missing_token",
            "send the task instance's token in an 'Authorization: Bearer <token>' header",
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        return server_state(request).signer.verify(credentials.credentials)
    except TokenExpiredError as exc:
        raise HTTPProblem(HTTPStatus.UNAUTHORIZED, "token_expired", str(exc)) from None
    except TokenInvalidError as exc:
        raise HTTPProblem(HTTPStatus.FORBIDDEN, "invalid_token", str(exc)) from None


Claims = Annotated[TokenClaims, Depends(token_claims)]


async def execution_claims(request: Request, claims: Claims) -> TokenClaims:
    """Return the claims of an execution token, offering a fresh one once it is half used.

    Raises:
        HTTPProblem: 403 ``wrong_scope`` for a workload token.
    """
    if claims.scope != "execution":
        raise HTTPProblem(
            HTTPStatus.FORBIDDEN,
            "wrong_scope",
            f"a {claims.scope} token can only start its task instance (PATCH .../run); "
            "use the execution token that /run returned",
        )
    signer = server_state(request).signer
    if signer.needs_refresh(claims, datetime.now(UTC)):
        offer_refreshed_token(request, claims.sub)
    return claims


ExecutionClaims = Annotated[TokenClaims, Depends(execution_claims)]


async def run_claims(request: Request, ti_id: str, claims: Claims) -> TokenClaims:
    """Authorise ``PATCH /task-instances/{ti_id}/run``: a workload or execution token for it.

    A workload token always earns an execution token in the answer.
    """
    _check_subject(claims, ti_id)
    if claims.scope == "workload":
        offer_refreshed_token(request, claims.sub)
        return claims
    return await execution_claims(request, claims)


RunClaims = Annotated[TokenClaims, Depends(run_claims)]


async def task_instance_claims(ti_id: str, claims: ExecutionClaims) -> TokenClaims:
    """Authorise a ``/task-instances/{ti_id}/...`` route: an execution token for ``ti_id``."""
    _check_subject(claims, ti_id)
    return claims


TaskInstanceClaims = Annotated[TokenClaims, Depends(task_instance_claims)]


def running_task_instance(claims: ExecutionClaims, session: DbSession) -> TaskInstance:
    """Return the token's task instance, which must be running.

    Raises:
        HTTPProblem: 410 ``task_instance_archived`` for an earlier try;
            403 ``task_instance_not_running`` when it is gone or not running.
    """
    ti = session.get(TaskInstance, claims.sub)
    if ti is None:
        if is_archived(session, claims.sub):
            raise archived_problem(claims.sub)
        raise _not_running(f"task instance {claims.sub} does not exist")
    if ti.state != TaskInstanceState.RUNNING:
        raise _not_running(f"task instance {ti.id} is {ti.state or 'not scheduled'}")
    return ti


RunningTaskInstance = Annotated[TaskInstance, Depends(running_task_instance)]

QueryInt = Annotated[int, Query(ge=INT32_MIN, le=INT32_MAX)]
"""An integer query parameter that fits an ``INTEGER`` column; others get 422, not a 500."""
OptionalQueryInt = Annotated[int | None, Query(ge=INT32_MIN, le=INT32_MAX)]
"""The same, optional."""
"""The running task instance the request's execution token was minted for."""


def _check_subject(claims: TokenClaims, ti_id: str) -> None:
    if claims.sub != ti_id:
        raise HTTPProblem(
            HTTPStatus.FORBIDDEN,
            "wrong_task_instance",
            f"the token was minted for task instance {claims.sub}, not {ti_id}",
        )


def _not_running(what: str) -> HTTPProblem:
    return HTTPProblem(
        HTTPStatus.FORBIDDEN,
        "task_instance_not_running",
        f"{what}: only a running task instance may use this route",
    )
