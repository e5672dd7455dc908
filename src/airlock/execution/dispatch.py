"""Serving a runner's requests: each protocol message becomes one Execution API call.

The dispatcher holds the task instance's identity, so the runner can only ever act as itself:
``SetXCom`` carries no task id, and the API checks the token besides. Secrets that pass through
(connection passwords and extras, Variables with sensitive keys) are registered with the
masker before the runner sees them. While the API is away (restarting, its database
restarting), a request waits for it up to ``patience`` seconds (:mod:`airlock.api.patience`).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import httpx
import msgspec

from airlock.api.models import (
    TIFailed,
    TIRetry,
    TISkipDownstreamRequest,
    TISkipped,
    TIStateUpdate,
    TISuccess,
    VariablePutRequest,
)
from airlock.api.patience import call_patiently
from airlock.exceptions import ApiError
from airlock.execution import rendered_fields
from airlock.execution.masking import is_sensitive_name
from airlock.execution.protocol import (
    ConnectionResult,
    DeleteVariable,
    ErrorKind,
    ErrorResponse,
    GetConnection,
    GetPrevSuccessfulDagRun,
    GetVariable,
    GetXCom,
    GetXComSequence,
    MaskSecret,
    OKResponse,
    PrevSuccessfulDagRunResult,
    PutVariable,
    RetryTask,
    SetRenderedFields,
    SetXCom,
    SkipDownstreamTasks,
    SucceedTask,
    TaskState,
    TerminalMessage,
    ToRunner,
    ToSupervisor,
    VariableResult,
    XComResult,
    XComSequenceResult,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from airlock.api.client import TaskApi
    from airlock.api.models import TaskInstanceKey
    from airlock.execution.masking import SecretsMasker

_STATUS_KINDS = {403: ErrorKind.PERMISSION_DENIED, 409: ErrorKind.CONFLICT}


def state_update(message: TerminalMessage) -> TIStateUpdate:
    """The API state change a terminal protocol message asks for."""
    match message:
        case SucceedTask():
            return TISuccess()
        case RetryTask(reason=reason):
            return TIRetry(reason=reason)
        case TaskState(state="skipped", reason=reason):
            return TISkipped(reason=reason)
        case TaskState(reason=reason):
            return TIFailed(reason=reason)


class RequestDispatcher:
    """Turns one runner's requests into API calls made with its task instance's token."""

    def __init__(
        self,
        api: TaskApi,
        ti: TaskInstanceKey,
        masker: SecretsMasker,
        *,
        xcom_max_bytes: int,
        on_reported: Callable[[TIStateUpdate], None] | None = None,
        explain_reason: Callable[[str], str] | None = None,
        patience: float = 0.0,
        pause: float = 0.5,
        on_outage: Callable[[Exception], None] | None = None,
    ) -> None:
        self._on_reported = on_reported or (lambda _update: None)
        self._explain_reason = explain_reason or (lambda reason: reason)
        self._api = api
        self._ti = ti
        self._masker = masker
        self._xcom_max_bytes = xcom_max_bytes
        self._patience = patience
        self._pause = pause
        self._on_outage = on_outage
        self.attempted: TIStateUpdate | None = None
        """The terminal state the runner reported, once it has (accepted by the API or not)."""
        self.reported: TIStateUpdate | None = None
        """The terminal state the API accepted for this try, once it has."""

    async def handle(self, message: ToSupervisor) -> ToRunner:
        """Serve one request; API refusals become ``ErrorResponse``, never an exception.

        While the API is away the request is repeated, for up to ``patience`` seconds.
        """
        try:
            return await call_patiently(
                lambda: self._dispatch(message),
                deadline=time.monotonic() + self._patience,
                pause=self._pause,
                on_outage=self._on_outage,
            )
        except ApiError as exc:
            kind = _STATUS_KINDS.get(exc.status_code, ErrorKind.API_ERROR)
            return ErrorResponse(error=kind, detail=exc.message, status_code=exc.status_code)
        except httpx.HTTPError as exc:
            return ErrorResponse(
                error=ErrorKind.API_ERROR, detail=f"the Execution API is unreachable: {exc!r}"
            )

    def _with_safe_reason(self, update: TIStateUpdate) -> TIStateUpdate:
        """The update with its reason masked (and explained), before it leaves for the API."""
        reason = getattr(update, "reason", None)
        if not reason:
            return update
        safe = self._explain_reason(self._masker.redact(reason))
        return msgspec.structs.replace(update, reason=safe)

    async def _dispatch(self, message: ToSupervisor) -> ToRunner:
        match message:
            case GetXCom() | GetXComSequence():
                return await self._get_xcom(message)
            case SetXCom():
                return await self._set_xcom(message)
            case GetVariable() | PutVariable() | DeleteVariable():
                return await self._variable_request(message)
            case GetConnection(conn_id=conn_id):
                return await self._get_connection(conn_id)
            case SetRenderedFields() | SkipDownstreamTasks() | GetPrevSuccessfulDagRun():
                return await self._authoring_request(message)
            case MaskSecret(values=values):
                self._masker.add_all(values)
            case SucceedTask() | TaskState() | RetryTask():
                self.attempted = self._with_safe_reason(state_update(message))
                await self._api.finish(self.attempted)
                self.reported = self.attempted
                self._on_reported(self.reported)
        return OKResponse()

    async def _get_xcom(self, message: GetXCom | GetXComSequence) -> ToRunner:
        if isinstance(message, GetXComSequence):
            return await self._get_xcom_sequence(message)
        value = await self._api.get_xcom(
            dag_id=message.dag_id or self._ti.dag_id,
            run_id=message.run_id or self._ti.run_id,
            task_id=message.task_id,
            key=message.key,
            map_index=message.map_index,
            include_prior_dates=message.include_prior_dates,
        )
        return XComResult(key=message.key, value=value)

    async def _get_xcom_sequence(self, message: GetXComSequence) -> ToRunner:
        found = await self._api.get_xcom_sequence(
            dag_id=message.dag_id or self._ti.dag_id,
            run_id=message.run_id or self._ti.run_id,
            task_id=message.task_id,
            key=message.key,
            start=message.start,
            stop=message.stop,
            step=message.step,
        )
        return XComSequenceResult(length=found.length, values=[bytes(v) for v in found.values])

    async def _set_xcom(self, message: SetXCom) -> ToRunner:
        if len(message.value) > self._xcom_max_bytes:
            return ErrorResponse(
                error=ErrorKind.INVALID_REQUEST,
                detail=f"XCom {message.key!r} is {len(message.value)} bytes, over the limit of "
                f"{self._xcom_max_bytes} bytes: store large data elsewhere (a file, object "
                "storage) and pass its location instead",
            )
        ti = self._ti
        await self._api.set_xcom(
            dag_id=ti.dag_id,
            run_id=ti.run_id,
            task_id=ti.task_id,
            key=message.key,
            map_index=ti.map_index,
            value=message.value,
        )
        return OKResponse()

    async def _variable_request(
        self, message: GetVariable | PutVariable | DeleteVariable
    ) -> ToRunner:
        """Read, write or delete a Variable; a secret one's value is masked from then on."""
        match message:
            case GetVariable(key=key):
                return await self._get_variable(key)
            case PutVariable(key=key, value=value, description=description):
                if is_sensitive_name(key):
                    self._masker.add(value)
                body = VariablePutRequest(value=value, description=description)
                await self._api.put_variable(key, body)
            case DeleteVariable(key=key):
                await self._api.delete_variable(key)
        return OKResponse()

    async def _get_variable(self, key: str) -> ToRunner:
        found = await self._api.get_variable(key)
        if found is None:
            return ErrorResponse(
                error=ErrorKind.VARIABLE_NOT_FOUND, detail=f"Variable {key!r} does not exist"
            )
        if is_sensitive_name(key):
            self._masker.add(found.value)
        return VariableResult(**msgspec.structs.asdict(found))

    async def _get_connection(self, conn_id: str) -> ToRunner:
        found = await self._api.get_connection(conn_id)
        if found is None:
            return ErrorResponse(
                error=ErrorKind.CONNECTION_NOT_FOUND,
                detail=f"Connection {conn_id!r} is not defined",
            )
        self._masker.add_connection(found.password, found.extra)
        return ConnectionResult(**msgspec.structs.asdict(found))

    async def _authoring_request(
        self, message: SetRenderedFields | SkipDownstreamTasks | GetPrevSuccessfulDagRun
    ) -> ToRunner:
        """Serve the requests of templating, branching and the ``prev_*_success`` keys."""
        match message:
            case SetRenderedFields(fields=fields, max_length=max_length):
                stored = rendered_fields.for_storage(fields, self._masker, max_length)
                await self._api.put_rendered_fields(stored)
            case SkipDownstreamTasks(tasks=tasks):
                await self._api.skip_downstream(TISkipDownstreamRequest(tasks=tasks))
            case GetPrevSuccessfulDagRun():
                found = await self._api.previous_successful_dag_run()
                return PrevSuccessfulDagRunResult(**msgspec.structs.asdict(found))
        return OKResponse()
