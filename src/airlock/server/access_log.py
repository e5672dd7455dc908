"""Access logs of the Execution API: one JSON line per request.

Each line holds ``method``, ``path`` (without the query string), ``status``, ``duration_ms``,
``client`` and ``request_id``: the correlation id, taken from the request's ``X-Request-ID``
header when it is a sane value, else generated, and always echoed in the answer's
``X-Request-ID`` header. Headers are never logged, so neither is ``Authorization``.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import TYPE_CHECKING, Any

from starlette.datastructures import MutableHeaders

from airlock.service_log import service_logger

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "x-request-id"
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def request_id_of(scope: Scope) -> str:
    """The request's correlation id: its ``X-Request-ID`` if sane, else a new one."""
    for name, value in scope.get("headers", []):
        if name == REQUEST_ID_HEADER.encode():
            text = bytes(value).decode("latin-1")
            if _SANE_ID.fullmatch(text):
                return text
    return uuid.uuid4().hex


class AccessLogMiddleware:
    """Logs every HTTP request as a JSON line, and tags answers with their request id.

    Args:
        app: the ASGI application to wrap.
        logger: a structlog logger; by default JSON lines on stderr.
    """

    def __init__(self, app: ASGIApp, *, logger: Any = None) -> None:
        self.app = app
        self.log = logger or service_logger("airlock.access")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request, then log it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        started = time.perf_counter()
        status = 500

        async def send_tagged(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append(REQUEST_ID_HEADER, request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_tagged)
        finally:
            self.log.info(
                "request",
                method=scope.get("method"),
                path=scope.get("path"),
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
                client=_client(scope),
                request_id=request_id,
            )


def _client(scope: Scope) -> str | None:
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else None
