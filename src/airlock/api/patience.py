"""Riding out an Execution API outage: repeat a call while the API is away, up to a deadline.

The API client already retries each request a few times with backoff (``api_retries``). An API
server that restarts, or whose database restarts, can be away for longer than that. The
supervisor then repeats the whole call every ``pause`` seconds until its deadline, so that a
runner's request or a try's final report is not lost to a short outage. Only the signs of an
outage are waited out: a connection error, a timeout, or 502/503/504 (the API answers 503 when
its database is unreachable). A refusal (4xx) or a server bug (500) is never repeated here.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Final, TypeVar

import httpx

from airlock.exceptions import ApiError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

ResultT = TypeVar("ResultT")

OUTAGE_STATUSES: Final = frozenset({502, 503, 504})
"""The answers of an API (or of a proxy in front of it) that is away for a while."""


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` says the API could not be reached or is away, not that it refused."""
    if isinstance(exc, ApiError):
        return exc.status_code in OUTAGE_STATUSES
    return isinstance(exc, httpx.TransportError)


async def call_patiently(
    call: Callable[[], Awaitable[ResultT]],
    *,
    deadline: float,
    pause: float,
    on_outage: Callable[[Exception], None] | None = None,
) -> ResultT:
    """Return ``await call()``, repeating it every ``pause`` seconds while the API is away.

    Args:
        call: makes the API call (a new coroutine each time).
        deadline: ``time.monotonic()`` past which the last outage error is raised.
        pause: seconds between two calls.
        on_outage: told about each outage error that is waited out.

    Raises:
        ApiError: the API refused, failed (500), or was still away at the deadline.
        httpx.HTTPError: the API was still unreachable at the deadline.
    """
    while True:
        try:
            return await call()
        except (ApiError, httpx.HTTPError) as exc:
            if not is_outage(exc) or time.monotonic() + pause > deadline:
                raise
            if on_outage is not None:
                on_outage(exc)
        await asyncio.sleep(pause)
