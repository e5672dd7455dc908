"""Waiting out an API outage: repeat on connection errors and 502/503/504, never on refusals."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from airlock.api.patience import call_patiently, is_outage
from airlock.exceptions import ApiConflictError, ApiError


class FlakyCall:
    """A call that fails with the given errors, in order, then answers ``"ok"``."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.calls = 0

    async def __call__(self) -> str:
        """Fail with the next error, or answer."""
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "ok"


def _patiently(call: FlakyCall, patience: float = 5.0, **kwargs) -> str:
    deadline = time.monotonic() + patience
    return asyncio.run(call_patiently(call, deadline=deadline, pause=0.01, **kwargs))


def test_connection_errors_and_outage_answers_are_waited_out():
    """Connection refused, a timeout, 502, 503 and 504 are repeated until the call succeeds."""
    call = FlakyCall(
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("server disconnected"),
        ApiError(502, "bad_gateway", "proxy"),
        ApiError(503, "database_unavailable", "restarting"),
        ApiError(504, "gateway_timeout", "proxy"),
    )
    seen: list[Exception] = []
    assert _patiently(call, on_outage=seen.append) == "ok"
    assert call.calls == 7
    assert len(seen) == 6


@pytest.mark.parametrize(
    "refusal",
    [
        ApiError(500, "internal_error", "a bug"),
        ApiError(401, "unauthorized", "expired"),
        ApiConflictError(409, "invalid_state", "already success"),
        ApiError(410, "task_instance_archived", "gone"),
    ],
)
def test_refusals_and_server_bugs_are_not_repeated(refusal):
    """A 4xx answer or a 500 is raised at once: waiting would not change it."""
    call = FlakyCall(refusal)
    with pytest.raises(ApiError) as raised:
        _patiently(call)
    assert raised.value is refusal
    assert call.calls == 1
    assert not is_outage(refusal)


def test_the_last_outage_error_is_raised_at_the_deadline():
    """An outage that outlasts the deadline raises its last error, after about the deadline."""
    call = FlakyCall(*(httpx.ConnectError(f"refused {n}") for n in range(1000)))
    started = time.monotonic()
    with pytest.raises(httpx.ConnectError):
        _patiently(call, patience=0.3)
    assert 0.25 < time.monotonic() - started < 2
    assert call.calls > 5


def test_no_patience_means_one_call():
    """With a deadline already past, the call is made once (what ``patience=0`` means)."""
    call = FlakyCall(httpx.ConnectError("refused"))
    with pytest.raises(httpx.ConnectError):
        _patiently(call, patience=0.0)
    assert call.calls == 1
