"""Token refresh: a successful answer may carry a new execution token for a running try.

The auth dependencies call :func:`offer_refreshed_token` when the request's execution token is
past half its lifetime, or when ``/run`` was called with a workload token. Every route that may
answer successfully for such a request has, in its own transaction, found the try running
(``/run`` made it so; heartbeat and the XCom, Variable and Connection routes check it) — except
``/state``, which ends the try and so withdraws the offer. :class:`TokenRefreshMiddleware` then
adds the ``Refreshed-API-Token`` header to the successful answer: a try that has finished, or
was archived for a retry, gets no new token, and no second database connection is needed while
the route's own may still be open (which, with many concurrent requests, could exhaust the pool).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from starlette.datastructures import MutableHeaders

from airlock.api.models import REFRESHED_TOKEN_HEADER

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from airlock.server.auth import TokenSigner

_STATE_KEY = "airlock_refresh_ti_id"


def offer_refreshed_token(request: Request, ti_id: str) -> None:
    """Ask for a fresh execution token for ``ti_id`` in a successful answer."""
    request.scope.setdefault("state", {})[_STATE_KEY] = ti_id


def withdraw_refreshed_token(request: Request) -> None:
    """The route ended the try: its answer carries no new token."""
    request.scope.setdefault("state", {}).pop(_STATE_KEY, None)


class TokenRefreshMiddleware:
    """Add ``Refreshed-API-Token`` to successful answers whose request asked for it.

    Args:
        app: the ASGI application to wrap.
        signer: mints the new execution tokens.
        session_factory: opens the session that checks the try is still running.
    """

    def __init__(self, app: ASGIApp, *, signer: TokenSigner) -> None:
        self.app = app
        self._signer = signer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, adding the token header to the answer when one was offered."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})

        async def send_with_token(message: Message) -> None:
            ti_id = state.get(_STATE_KEY)
            if message["type"] == "http.response.start" and ti_id is not None:
                await self._add_token(message, ti_id)
            await send(message)

        await self.app(scope, receive, send_with_token)

    async def _add_token(self, message: Message, ti_id: str) -> None:
        if message["status"] >= HTTPStatus.BAD_REQUEST:
            return
        token = self._signer.mint(ti_id, scope="execution")
        MutableHeaders(scope=message).append(REFRESHED_TOKEN_HEADER, token)
