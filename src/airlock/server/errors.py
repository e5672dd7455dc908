"""Every error answer of the Execution API is an ``ErrorBody``: ``{"detail": {reason, message}}``.

Route code raises :class:`HTTPProblem`; the handlers installed by :func:`install_error_handlers`
turn it, Starlette's own 404/405, FastAPI's parameter validation errors and any unexpected
exception into that shape. An unexpected exception becomes a 500 ``internal_error`` whose
message carries a correlation id, logged with the traceback (never its local variables, which
may hold the request's token). A database that cannot be reached (restarting, connection cut,
SQLite locked past its busy timeout) is not a bug of the server: it becomes a 503
``database_unavailable`` with ``Retry-After``, which supervisors wait out
(:mod:`airlock.api.patience`).
"""

from __future__ import annotations

import sqlite3
import traceback
import uuid
from http import HTTPStatus
from typing import TYPE_CHECKING

import msgspec
import structlog
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from airlock.api.models import ErrorBody, ErrorDetail

if TYPE_CHECKING:
    from collections.abc import Mapping

    from fastapi import FastAPI
    from starlette.requests import Request
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = structlog.get_logger(__name__)


class HTTPProblem(Exception):  # noqa: N818 -- it is an answer, not an error of the server
    """An error answer: an HTTP status, a machine-readable reason and a message for people.

    Args:
        status_code: the HTTP status of the answer.
        reason: a short snake_case code clients branch on, e.g. ``task_instance_archived``.
        message: what happened and, where it helps, what to do about it.
        headers: extra response headers.
    """

    def __init__(
        self,
        status_code: int,
        reason: str,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status_code} {reason}: {message}")
        self.status_code = status_code
        self.reason = reason
        self.message = message
        self.headers = dict(headers or {})


def error_response(
    status_code: int, reason: str, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    """Build the ``ErrorBody`` JSON response for an error."""
    body = ErrorBody(detail=ErrorDetail(reason=reason, message=message))
    return Response(
        msgspec.json.encode(body),
        status_code=status_code,
        media_type="application/json",
        headers=headers,
    )


def install_error_handlers(app: FastAPI) -> None:
    """Make every error ``app`` answers with an ``ErrorBody``."""
    app.add_exception_handler(HTTPProblem, _problem_answer)
    app.add_exception_handler(StarletteHTTPException, _http_exception_answer)
    app.add_exception_handler(RequestValidationError, _validation_answer)
    app.add_middleware(UnexpectedErrorMiddleware)


async def _problem_answer(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPProblem)  # noqa: S101 -- registered for this class only
    return error_response(exc.status_code, exc.reason, exc.message, exc.headers)


async def _http_exception_answer(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101 -- registered for this class
    status = HTTPStatus(exc.status_code)
    reason = status.phrase.lower().replace(" ", "_").replace("-", "_")
    if status == HTTPStatus.NOT_FOUND:
        message = f"no route matches {request.method} {request.url.path}"
    elif status == HTTPStatus.METHOD_NOT_ALLOWED:
        message = f"{request.method} is not allowed on {request.url.path}"
    else:
        message = str(exc.detail)
    return error_response(exc.status_code, reason, message, exc.headers)


async def _validation_answer(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 -- registered for this class
    problems = "; ".join(
        f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in exc.errors()
    )
    return error_response(HTTPStatus.UNPROCESSABLE_ENTITY, "invalid_request", problems)


class UnexpectedErrorMiddleware:
    """Answer an exception no handler knows with a 500 ``internal_error`` and log it.

    Args:
        app: the ASGI application to wrap.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; answer 500 if it raises before the answer has started."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_noting_start(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_noting_start)
        except Exception as exc:
            if started:
                raise
            answer = _unexpected_error(exc, scope)
            await answer(scope, receive, send)


_SQLITE_BUSY_MESSAGES = ("database is locked", "database table is locked", "unable to open")


def _unexpected_error(exc: Exception, scope: Scope) -> Response:
    if is_database_unavailable(exc):
        return _database_unavailable(exc, scope)
    return _internal_error(exc, scope)


def is_database_unavailable(exc: Exception) -> bool:
    """Whether ``exc`` says the database cannot be reached now, not that a statement is wrong.

    A cut connection, a PostgreSQL server that is down, restarting or shutting sessions down (an
    ``OperationalError``), or a SQLite file locked past its busy timeout or not openable. SQLite's
    other ``OperationalError`` cases (no such table, a syntax error) are bugs: 500.
    """
    if isinstance(exc, DisconnectionError):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    if isinstance(exc.orig, sqlite3.Error):
        return str(exc.orig).startswith(_SQLITE_BUSY_MESSAGES)
    return isinstance(exc, OperationalError)


def _database_unavailable(exc: Exception, scope: Scope) -> Response:
    logger.warning(
        "the database is unavailable",
        method=scope.get("method"),
        path=scope.get("path"),
        error=_driver_message(exc),
    )
    return error_response(
        HTTPStatus.SERVICE_UNAVAILABLE,
        "database_unavailable",
        "the server cannot reach its database right now; try again shortly",
        {"Retry-After": "1"},
    )


def _driver_message(exc: Exception) -> str:
    """The driver's own words, without the statement and its parameters (values may be secret)."""
    cause = getattr(exc, "orig", None) or exc
    return f"{type(cause).__name__}: {str(cause).strip()[:300]}"


def _internal_error(exc: Exception, scope: Scope) -> Response:
    correlation_id = uuid.uuid4().hex
    logger.error(
        "unexpected error while answering a request",
        correlation_id=correlation_id,
        method=scope.get("method"),
        path=scope.get("path"),
        error=repr(exc),
        traceback="".join(traceback.format_exception(exc)),
    )
    return error_response(
        HTTPStatus.INTERNAL_SERVER_ERROR,
        "internal_error",
        f"the server failed to answer; quote correlation id {correlation_id} when reporting it",
        {"Correlation-Id": correlation_id},
    )
