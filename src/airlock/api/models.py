"""The Execution API's request and response bodies: one definition, used by both ends.

The server decodes request bodies into these structs and encodes its answers from them; the
supervisor's client does the reverse. The runner protocol (``airlock.execution.protocol``)
reuses several of them, so a field is declared once for the whole path.

Only msgspec and the standard library are imported here: the task runner may import this module.
"""

from __future__ import annotations

from datetime import datetime  # noqa: TC003 -- msgspec resolves annotations at runtime
from typing import Annotated, Any, Literal

import msgspec

API_PREFIX = "/execution/api/v1"
REFRESHED_TOKEN_HEADER = "Refreshed-API-Token"  # noqa: S105 -- a header name, not a secret
INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
DbInt = Annotated[int, msgspec.Meta(ge=INT32_MIN, le=INT32_MAX)]
"""An integer a request may carry into an ``INTEGER`` column (pid, map index): larger ones are
refused with 422 instead of failing in the database."""


class Model(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """Base of every API model: keyword-only, immutable, defaults left off the wire."""


class TaskInstanceKey(Model, frozen=True):
    """Who a task instance is: its id (one per try) and where it sits in a DAG run."""

    id: str
    dag_id: str
    run_id: str
    task_id: str
    map_index: int = -1
    try_number: int = 1


class DagRunInfo(Model, frozen=True):
    """The DAG run a task instance belongs to, as the task sees it."""

    dag_id: str
    run_id: str
    run_type: str = "manual"
    logical_date: datetime | None = None
    data_interval_start: datetime | None = None
    data_interval_end: datetime | None = None
    start_date: datetime | None = None
    conf: dict[str, Any] = msgspec.field(default_factory=dict)


class TIRunRequest(Model, frozen=True):
    """Body of ``PATCH /task-instances/{id}/run``: the process that starts the try."""

    hostname: str
    pid: DbInt
    unixname: str


class TIRunContext(Model, frozen=True):
    """Answer to ``/run``: what the task needs to know about its run and its retries."""

    dag_run: DagRunInfo
    try_number: int
    max_tries: int

    @property
    def should_retry(self) -> bool:
        """Whether a failure of this try leads to another try."""
        return self.try_number <= self.max_tries


class TISuccess(Model, tag_field="state", tag="success", frozen=True):
    """The try succeeded."""


class TIFailed(Model, tag_field="state", tag="failed", frozen=True):
    """The try failed for good; ``reason`` says why."""

    reason: str | None = None


class TISkipped(Model, tag_field="state", tag="skipped", frozen=True):
    """The try ended as skipped."""

    reason: str | None = None


class TIRetry(Model, tag_field="state", tag="up_for_retry", frozen=True):
    """The try failed and another try will follow after the retry delay."""

    reason: str | None = None


TIStateUpdate = TISuccess | TIFailed | TISkipped | TIRetry
"""Body of ``PATCH /task-instances/{id}/state``, told apart by its ``state`` field."""


class HeartbeatRequest(Model, frozen=True):
    """Body of ``PUT /task-instances/{id}/heartbeat``."""

    hostname: str
    pid: DbInt


# --- authoring: rendered fields, skipping downstream tasks, the previous successful run ---------


class TISkipDownstreamRequest(Model, frozen=True):
    """Body of ``PATCH /task-instances/{id}/skip-downstream``: the tasks to mark skipped.

    Each item is a task id (every map index of it) or a ``[task_id, map_index]`` pair.
    """

    tasks: list[str | tuple[str, DbInt]]


class PrevSuccessfulDagRunResponse(Model, frozen=True):
    """The latest successful earlier run of the task instance's DAG (all ``None`` if none)."""

    data_interval_start: datetime | None = None
    data_interval_end: datetime | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None


class XComSequenceSlice(Model, frozen=True):
    """Body of ``GET /xcom-sequences/...``: a mapped task's values, in map index order.

    ``length`` counts every stored value; ``values`` are those of the asked slice, as the JSON
    their tasks stored.
    """

    length: int
    values: list[msgspec.Raw] = msgspec.field(default_factory=list)


class VariableResponse(Model, frozen=True):
    """A Variable as the API returns it."""

    key: str
    value: str
    description: str | None = None


class VariablePutRequest(Model, frozen=True):
    """Body of ``PUT /variables/{key}``."""

    value: str
    description: str | None = None


class ConnectionResponse(Model, frozen=True):
    """A Connection as the API returns it."""

    conn_id: str
    conn_type: str
    host: str | None = None
    schema: str | None = None
    login: str | None = None
    password: str | None = None
    port: int | None = None
    extra: str | None = None


class ErrorDetail(Model, frozen=True):
    """What went wrong, in every 4xx/5xx body: ``{"detail": {"reason", "message"}}``."""

    reason: str
    message: str


class ErrorBody(Model, frozen=True):
    """The envelope of every error body."""

    detail: ErrorDetail


class HealthResponse(Model, frozen=True):
    """Body of ``GET /health``."""

    status: Literal["healthy"] = "healthy"
    version: str = ""
