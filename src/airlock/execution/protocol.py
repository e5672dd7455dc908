"""The messages between a task runner and its supervisor.

Rules of the protocol:

- Every message is a frozen ``msgspec.Struct`` with ``tag=True`` (the tag is the class name),
  declared once, in this module.
- Messages the runner sends form the union ``ToSupervisor``; messages the supervisor sends form
  ``ToRunner``.
- On the wire a message travels inside a frame: a 4-byte big-endian unsigned length, then a
  msgpack array ``[id, body]`` (``airlock.execution.frames``).
- The runner is serial: it sends one request and reads exactly one response, whose ``id`` echoes
  the request's. ``StartupDetails`` (id 0) is the only message ever sent unasked.
- Every request gets a response: a ``*Result``, ``OKResponse``, or ``ErrorResponse`` when the
  request was refused. A request the supervisor cannot decode gets an ``ErrorResponse`` of kind
  ``PROTOCOL_ERROR``; a frame it cannot even split ends the task.
- XCom values travel as JSON bytes (``airlock.execution.xcom_values``): the supervisor forwards
  them to the API without decoding them.

Only msgspec and the standard library are imported here, because the runner imports this module.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

import msgspec

from airlock.api.models import ConnectionResponse, TaskInstanceKey, TIRunContext, VariableResponse

PROTOCOL_VERSION = 1
"""Bumped when a message changes shape; runner and supervisor refuse to talk across versions."""


class Message(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True, tag=True):
    """Base of every protocol message."""


# --- runner -> supervisor ------------------------------------------------------------------


class GetXCom(Message, frozen=True):
    """Read an XCom; ``dag_id``/``run_id`` default to the asking task's own run."""

    task_id: str
    key: str = "return_value"
    map_index: int = -1
    dag_id: str | None = None
    run_id: str | None = None


class SetXCom(Message, frozen=True):
    """Store an XCom for the asking task instance; ``value`` is JSON."""

    key: str
    value: bytes


class GetVariable(Message, frozen=True):
    """Read a Variable."""

    key: str


class PutVariable(Message, frozen=True):
    """Create or replace a Variable."""

    key: str
    value: str
    description: str | None = None


class DeleteVariable(Message, frozen=True):
    """Delete a Variable (no error when it does not exist)."""

    key: str


class GetConnection(Message, frozen=True):
    """Read a Connection."""

    conn_id: str


class SucceedTask(Message, frozen=True):
    """The task finished successfully; its XComs were already sent."""


class TaskState(Message, frozen=True):
    """The task ended as failed (no retry) or skipped."""

    state: Literal["failed", "skipped"]
    reason: str | None = None


class RetryTask(Message, frozen=True):
    """The task failed and has tries left: it should run again after its retry delay."""

    reason: str | None = None


ToSupervisor = (
    GetXCom
    | SetXCom
    | GetVariable
    | PutVariable
    | DeleteVariable
    | GetConnection
    | SucceedTask
    | TaskState
    | RetryTask
)
"""Every message a runner may send."""

TerminalMessage = SucceedTask | TaskState | RetryTask
"""The messages that end a try."""


# --- supervisor -> runner ------------------------------------------------------------------


class StartupDetails(Message, frozen=True):
    """Sent once, unasked, with id 0: which task instance to run and its run context."""

    ti: TaskInstanceKey
    dag_file: str
    run_context: TIRunContext
    protocol_version: int = PROTOCOL_VERSION


class XComResult(Message, frozen=True):
    """An XCom value as JSON, or ``None`` when no such XCom exists."""

    key: str
    value: bytes | None = None


class VariableResult(VariableResponse, tag=True, frozen=True):
    """A Variable."""


class ConnectionResult(ConnectionResponse, tag=True, frozen=True):
    """A Connection."""


class OKResponse(Message, frozen=True):
    """The request was carried out."""


class ErrorKind(StrEnum):
    """Why a request was refused."""

    VARIABLE_NOT_FOUND = "variable_not_found"
    CONNECTION_NOT_FOUND = "connection_not_found"
    PERMISSION_DENIED = "permission_denied"
    CONFLICT = "conflict"
    INVALID_REQUEST = "invalid_request"
    API_ERROR = "api_error"
    PROTOCOL_ERROR = "protocol_error"


class ErrorResponse(Message, frozen=True):
    """The request was refused; ``detail`` says why in words a user can act on."""

    error: ErrorKind
    detail: str
    status_code: int | None = None


ToRunner = (
    StartupDetails | XComResult | VariableResult | ConnectionResult | OKResponse | ErrorResponse
)
"""Every message a supervisor may send."""


# --- frames ---------------------------------------------------------------------------------


class RequestFrame(msgspec.Struct, array_like=True, frozen=True):
    """A runner's request on the wire: ``[id, body]``."""

    id: int
    body: ToSupervisor


class ResponseFrame(msgspec.Struct, array_like=True, frozen=True):
    """A supervisor's message on the wire: ``[id, body]``."""

    id: int
    body: ToRunner
