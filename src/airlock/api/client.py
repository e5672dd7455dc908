"""The supervisor's Execution API client: httpx with keep-alive, timeouts and retries.

One ``ExecutionApiClient`` (one connection pool) serves every task instance a supervisor runs;
``TaskApi`` makes the calls of one task instance with that instance's token, and swaps the token
whenever the server hands back a refreshed one. The transport is injected: the default HTTP
transport in production, ``httpx.ASGITransport(app)`` to run the same routes, auth and database
in-process (``airlock dags test``, tests).

Requests that meet a connection error, a timeout or a 5xx are retried with exponential backoff
and jitter; 4xx answers are never retried and become ``ApiError`` (``ApiConflictError`` for 409).
"""

from __future__ import annotations

import asyncio
import random
from typing import Any, Final, TypeVar
from urllib.parse import quote

import httpx
import msgspec

from airlock.api.models import (
    API_PREFIX,
    REFRESHED_TOKEN_HEADER,
    ConnectionResponse,
    ErrorBody,
    HeartbeatRequest,
    PrevSuccessfulDagRunResponse,
    TIRunContext,
    TIRunRequest,
    TISkipDownstreamRequest,
    TIStateUpdate,
    VariablePutRequest,
    VariableResponse,
    XComSequenceSlice,
)
from airlock.exceptions import ApiConflictError, ApiError

ModelT = TypeVar("ModelT")

_RETRY_STATUSES: Final = frozenset({500, 502, 503, 504})
_error_decoder = msgspec.json.Decoder(ErrorBody)
_encoder = msgspec.json.Encoder()


class ExecutionApiClient:
    """A pooled HTTP client for the Execution API, shared by many task instances.

    Args:
        base_url: the server's root, e.g. ``http://127.0.0.1:8080``.
        transport: the httpx transport; ``None`` means real HTTP.
        timeout: seconds before one request times out.
        retries: attempts for a request that meets a connection error, timeout or 5xx.
        backoff: seconds before the first retry; doubles each time, with jitter, up to 10 s.
    """

    def __init__(
        self,
        base_url: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
        retries: int = 5,
        backoff: float = 0.2,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + API_PREFIX,
            transport=transport,
            timeout=timeout,
            # few connections: httpcore scans its whole pool on every request, and one API
            # server gains nothing from more parallel requests of one supervisor
            limits=httpx.Limits(max_connections=8, max_keepalive_connections=8),
            headers={"user-agent": "airlock-supervisor"},
        )
        self._retries = max(1, retries)
        self._backoff = backoff

    def for_task(self, ti_id: str, token: str) -> TaskApi:
        """Return the calls of one task instance, authenticated with ``token``."""
        return TaskApi(self, ti_id, token)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def send(
        self, method: str, path: str, *, token: str, content: bytes | None = None
    ) -> httpx.Response:
        """Send one request, retrying transient failures; raise ``ApiError`` on a 4xx/5xx."""
        headers = {"authorization": f"Bearer {token}"}
        if content is not None:
            headers["content-type"] = "application/json"
        for attempt in range(1, self._retries + 1):
            try:
                response = await self._http.request(method, path, content=content, headers=headers)
            except httpx.TransportError:
                if attempt == self._retries:
                    raise
            else:
                if response.status_code not in _RETRY_STATUSES or attempt == self._retries:
                    return _checked(response)
            await asyncio.sleep(self._delay(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def _delay(self, attempt: int) -> float:
        ceiling = min(10.0, self._backoff * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 -- jitter, not cryptography


def _checked(response: httpx.Response) -> httpx.Response:
    if response.is_success or response.status_code == 404:  # noqa: PLR2004 -- callers map 404
        return response
    try:
        detail = _error_decoder.decode(response.content).detail
        reason, message = detail.reason, detail.message
    except msgspec.MsgspecError:
        reason, message = "http_error", response.text[:500]
    error = ApiConflictError if response.status_code == 409 else ApiError  # noqa: PLR2004
    raise error(response.status_code, reason, message)


def _decode(response: httpx.Response, model: type[ModelT]) -> ModelT:
    return msgspec.json.decode(response.content, type=model)


def _not_found(response: httpx.Response) -> bool:
    return response.status_code == 404  # noqa: PLR2004 -- the one status mapped to "absent"


def _raise_404(response: httpx.Response, what: str) -> None:
    if _not_found(response):
        raise ApiError(404, "not_found", f"{what} does not exist")


class TaskApi:
    """The Execution API calls of one task instance, with its (refreshed) token."""

    def __init__(self, client: ExecutionApiClient, ti_id: str, token: str) -> None:
        self._client = client
        self.ti_id = ti_id
        self._token = token

    def __repr__(self) -> str:
        return f"<TaskApi ti={self.ti_id}>"  # never the token

    async def _send(self, method: str, path: str, content: bytes | None = None) -> httpx.Response:
        response = await self._client.send(method, path, token=self._token, content=content)
        refreshed = response.headers.get(REFRESHED_TOKEN_HEADER)
        if refreshed:
            self._token = refreshed
        return response

    async def start(self, request: TIRunRequest) -> TIRunContext:
        """Move the task instance to running; return its run context."""
        response = await self._send("PATCH", self._ti_path("run"), _encoder.encode(request))
        _raise_404(response, f"task instance {self.ti_id}")
        return _decode(response, TIRunContext)

    async def finish(self, update: TIStateUpdate) -> None:
        """Report the try's terminal state."""
        response = await self._send("PATCH", self._ti_path("state"), _encoder.encode(update))
        _raise_404(response, f"task instance {self.ti_id}")

    async def heartbeat(self, request: HeartbeatRequest) -> None:
        """Tell the server the task instance is still running here."""
        response = await self._send("PUT", self._ti_path("heartbeat"), _encoder.encode(request))
        _raise_404(response, f"task instance {self.ti_id}")

    async def get_xcom(
        self,
        *,
        dag_id: str,
        run_id: str,
        task_id: str,
        key: str,
        map_index: int,
        include_prior_dates: bool = False,
    ) -> bytes | None:
        """Return an XCom's JSON bytes, or ``None`` when it does not exist.

        With ``include_prior_dates``, the latest value of the runs up to this run's logical date.
        """
        path = _xcom_path(dag_id, run_id, task_id, key, map_index)
        if include_prior_dates:
            path += "&include_prior_dates=true"
        response = await self._send("GET", path)
        return None if _not_found(response) else response.content

    async def set_xcom(
        self, *, dag_id: str, run_id: str, task_id: str, key: str, map_index: int, value: bytes
    ) -> None:
        """Store an XCom's JSON bytes."""
        path = _xcom_path(dag_id, run_id, task_id, key, map_index)
        response = await self._send("POST", path, value)
        _raise_404(response, f"DAG run {dag_id}/{run_id}")

    async def get_variable(self, key: str) -> VariableResponse | None:
        """Return a Variable, or ``None`` when it does not exist."""
        response = await self._send("GET", f"/variables/{_quote_path(key)}")
        return None if _not_found(response) else _decode(response, VariableResponse)

    async def put_variable(self, key: str, request: VariablePutRequest) -> None:
        """Create or replace a Variable."""
        await self._send("PUT", f"/variables/{_quote_path(key)}", _encoder.encode(request))

    async def delete_variable(self, key: str) -> None:
        """Delete a Variable."""
        await self._send("DELETE", f"/variables/{_quote_path(key)}")

    async def get_connection(self, conn_id: str) -> ConnectionResponse | None:
        """Return a Connection, or ``None`` when it does not exist."""
        response = await self._send("GET", f"/connections/{_quote_path(conn_id)}")
        return None if _not_found(response) else _decode(response, ConnectionResponse)

    async def put_rendered_fields(self, fields: dict[str, Any]) -> None:
        """Store the try's rendered template fields (already masked)."""
        body = _encoder.encode(fields)
        response = await self._send("PUT", self._ti_path("rendered-fields"), body)
        _raise_404(response, f"task instance {self.ti_id}")

    async def skip_downstream(self, request: TISkipDownstreamRequest) -> None:
        """Mark not-yet-started task instances of the same run skipped."""
        body = _encoder.encode(request)
        response = await self._send("PATCH", self._ti_path("skip-downstream"), body)
        _raise_404(response, f"task instance {self.ti_id}")

    async def previous_successful_dag_run(self) -> PrevSuccessfulDagRunResponse:
        """Return the latest successful earlier run of the try's DAG (empty when none)."""
        response = await self._send("GET", self._ti_path("previous-successful-dagrun"))
        _raise_404(response, f"task instance {self.ti_id}")
        return _decode(response, PrevSuccessfulDagRunResponse)

    async def get_xcom_sequence(
        self,
        *,
        dag_id: str,
        run_id: str,
        task_id: str,
        key: str,
        start: int | None = None,
        stop: int | None = None,
        step: int | None = None,
    ) -> XComSequenceSlice:
        """Return how many values a mapped task stored under ``key``, and a slice of them."""
        bounds = {"start": start, "stop": stop, "step": step}
        query = "&".join(f"{name}={value}" for name, value in bounds.items() if value is not None)
        path = f"/xcom-sequences/{_quote_path(dag_id, run_id, task_id, key)}"
        response = await self._send("GET", f"{path}?{query}" if query else path)
        return _decode(response, XComSequenceSlice)

    def _ti_path(self, action: str) -> str:
        return f"/task-instances/{self.ti_id}/{action}"


def _quote_path(*parts: Any) -> str:
    return "/".join(quote(str(part), safe="") for part in parts)


def _xcom_path(dag_id: str, run_id: str, task_id: str, key: str, map_index: int) -> str:
    return f"/xcoms/{_quote_path(dag_id, run_id, task_id, key)}?map_index={map_index}"
