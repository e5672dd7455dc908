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
from typing import Any, Literal

import msgspec

from airlock.api.models import (
    ConnectionResponse,
    PrevSuccessfulDagRunResponse,
    TaskInstanceKey,
    TIRunContext,
    VariableResponse,
)

PROTOCOL_VERSION = 1
"""Bumped when a message changes shape; runner and supervisor refuse to talk across versions."""

PARENT_PID_ENV = "AIRLOCK_PARENT_PID"
"""Names, in a new runner's environment, the pid of the process that started it (supervisor or
fork server): the runner exits at once if that process is already gone."""


class Message(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True, tag=True):
    """Base of every protocol message."""


# --- runner -> supervisor ------------------------------------------------------------------


class GetXCom(Message, frozen=True):
    """Read an XCom; ``dag_id``/``run_id`` default to the asking task's own run.

    With ``include_prior_dates``, the value comes from the latest run of the DAG whose logical
    date is not after this run's, when this run has none.
    """

    task_id: str
    key: str = "return_value"
    map_index: int = -1
    dag_id: str | None = None
    run_id: str | None = None
    include_prior_dates: bool = False


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


DEFAULT_MAX_TEMPLATED_FIELD_LENGTH = 4096
"""The longest a rendered template field is stored, in characters, unless configured."""


class SetRenderedFields(Message, frozen=True):
    """The task's template fields as rendered, JSON-safe; the supervisor masks and stores them.

    A field whose text is longer than ``max_length`` characters is stored cut (after masking).
    """

    fields: dict[str, Any]
    max_length: int = DEFAULT_MAX_TEMPLATED_FIELD_LENGTH


class SkipDownstreamTasks(Message, frozen=True):
    """Mark these tasks of the run skipped (branching): task ids or ``[task_id, map_index]``."""

    tasks: list[str | tuple[str, int]]


class GetXComSequence(Message, frozen=True):
    """Read a mapped task's values under ``key``, in map index order: their count and a slice.

    ``start``/``stop``/``step`` select values as a Python slice does; ``stop=0`` asks only for
    the count, and no bounds at all for every value (one round trip for a full iteration).
    """

    task_id: str
    key: str = "return_value"
    start: int | None = None
    stop: int | None = None
    step: int | None = None
    dag_id: str | None = None
    run_id: str | None = None


class GetPrevSuccessfulDagRun(Message, frozen=True):
    """Ask for the latest successful earlier run of the DAG (for ``prev_*_success`` keys)."""


class MaskSecret(Message, frozen=True):
    """Mask these values in the try's logs, rendered fields and failure reason from now on."""

    values: list[str]


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
    | GetXComSequence
    | SetRenderedFields
    | SkipDownstreamTasks
    | GetPrevSuccessfulDagRun
    | MaskSecret
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


class XComSequenceResult(Message, frozen=True):
    """A mapped task's value count, and the asked slice of its values as JSON."""

    length: int
    values: list[bytes] = msgspec.field(default_factory=list)


class VariableResult(VariableResponse, tag=True, frozen=True):
    """A Variable."""


class ConnectionResult(ConnectionResponse, tag=True, frozen=True):
    """A Connection."""


class PrevSuccessfulDagRunResult(PrevSuccessfulDagRunResponse, tag=True, frozen=True):
    """The latest successful earlier run of the DAG; every field ``None`` when there is none."""


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
    StartupDetails
    | XComResult
    | XComSequenceResult
    | VariableResult
    | ConnectionResult
    | PrevSuccessfulDagRunResult
    | OKResponse
    | ErrorResponse
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
