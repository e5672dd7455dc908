"""Serving a runner's requests: each protocol message becomes one Execution API call.

The dispatcher holds the task instance's identity, so the runner can only ever act as itself:
``SetXCom`` carries no task id, and the API checks the token besides. Secrets that pass through
(connection passwords and extras, Variables with sensitive keys) are registered with the
masker before the runner sees them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import msgspec

from airlock.api.models import (
    TIFailed,
    TIRetry,
    TISkipped,
    TIStateUpdate,
    TISuccess,
    VariablePutRequest,
)
from airlock.exceptions import ApiError
from airlock.execution.masking import is_sensitive_name
from airlock.execution.protocol import (
    ConnectionResult,
    DeleteVariable,
    ErrorKind,
    ErrorResponse,
    GetConnection,
    GetVariable,
    GetXCom,
    OKResponse,
    PutVariable,
    RetryTask,
    SetXCom,
    SucceedTask,
    TaskState,
    TerminalMessage,
    ToRunner,
    ToSupervisor,
    VariableResult,
    XComResult,
)

if TYPE_CHECKING:
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
        self, api: TaskApi, ti: TaskInstanceKey, masker: SecretsMasker, *, xcom_max_bytes: int
    ) -> None:
        self._api = api
        self._ti = ti
        self._masker = masker
        self._xcom_max_bytes = xcom_max_bytes
        self.attempted: TIStateUpdate | None = None
        """The terminal state the runner reported, once it has (accepted by the API or not)."""
        self.reported: TIStateUpdate | None = None
        """The terminal state the API accepted for this try, once it has."""

    async def handle(self, message: ToSupervisor) -> ToRunner:
        """Serve one request; API refusals become ``ErrorResponse``, never an exception."""
        try:
            return await self._dispatch(message)
        except ApiError as exc:
            kind = _STATUS_KINDS.get(exc.status_code, ErrorKind.API_ERROR)
            return ErrorResponse(error=kind, detail=exc.message, status_code=exc.status_code)
        except httpx.HTTPError as exc:
            return ErrorResponse(
                error=ErrorKind.API_ERROR, detail=f"the Execution API is unreachable: {exc!r}"
            )

    async def _dispatch(self, message: ToSupervisor) -> ToRunner:
        match message:
            case GetXCom():
                return await self._get_xcom(message)
            case SetXCom():
                return await self._set_xcom(message)
            case GetVariable(key=key):
                return await self._get_variable(key)
            case PutVariable(key=key, value=value, description=description):
                body = VariablePutRequest(value=value, description=description)
                await self._api.put_variable(key, body)
            case DeleteVariable(key=key):
                await self._api.delete_variable(key)
            case GetConnection(conn_id=conn_id):
                return await self._get_connection(conn_id)
            case SucceedTask() | TaskState() | RetryTask():
                self.attempted = state_update(message)
                await self._api.finish(self.attempted)
                self.reported = self.attempted
        return OKResponse()

    async def _get_xcom(self, message: GetXCom) -> ToRunner:
        value = await self._api.get_xcom(
            dag_id=message.dag_id or self._ti.dag_id,
            run_id=message.run_id or self._ti.run_id,
            task_id=message.task_id,
            key=message.key,
            map_index=message.map_index,
        )
        return XComResult(key=message.key, value=value)

    async def _set_xcom(self, message: SetXCom) -> ToRunner:
        if len(message.value) > self._xcom_max_bytes:
            return ErrorResponse(
                error=ErrorKind.INVALID_REQUEST,
                detail=f"XCom {message.key!r} is {len(message.value)} bytes, over the limit of "
                f"{self._xcom_max_bytes} bytes",
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
        self._masker.add(found.password)
        self._masker.add(found.extra)
        return ConnectionResult(**msgspec.structs.asdict(found))
