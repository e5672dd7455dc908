"""Token refresh: a successful answer may carry a new execution token for a running try.

The auth dependencies call :func:`offer_refreshed_token` when the request's execution token is
past half its lifetime, or when ``/run`` was called with a workload token. Once the route has
answered (its transaction already committed), :class:`TokenRefreshMiddleware` checks that the
try is still running and only then adds the ``Refreshed-API-Token`` header: a try that has just
finished, or was archived for a retry, gets no new token.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from sqlalchemy import select
from starlette.datastructures import MutableHeaders

from airlock.api.models import REFRESHED_TOKEN_HEADER
from airlock.db.engine import READ_ONLY
from airlock.db.models import TaskInstance
from airlock.states import TaskInstanceState

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker
    from starlette.requests import Request
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from airlock.server.auth import TokenSigner

_STATE_KEY = "airlock_refresh_ti_id"


def offer_refreshed_token(request: Request, ti_id: str) -> None:
    """Ask for a fresh execution token for ``ti_id`` in the answer, if it is still running."""
    request.scope.setdefault("state", {})[_STATE_KEY] = ti_id


class TokenRefreshMiddleware:
    """Add ``Refreshed-API-Token`` to successful answers whose request asked for it.

    Args:
        app: the ASGI application to wrap.
        signer: mints the new execution tokens.
        session_factory: opens the session that checks the try is still running.
    """

    def __init__(
        self, app: ASGIApp, *, signer: TokenSigner, session_factory: sessionmaker[Session]
    ) -> None:
        self.app = app
        self._signer = signer
        self._session_factory = session_factory

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
        token = await anyio.to_thread.run_sync(self._token_if_running, ti_id)
        if token is not None:
            MutableHeaders(scope=message).append(REFRESHED_TOKEN_HEADER, token)

    def _token_if_running(self, ti_id: str) -> str | None:
        with self._session_factory() as session:
            session.connection(execution_options={READ_ONLY: True})
            state = session.scalar(select(TaskInstance.state).where(TaskInstance.id == ti_id))
        if state != TaskInstanceState.RUNNING:
            return None
        return self._signer.mint(ti_id, scope="execution")
