"""``/task-instances/{ti_id}/...`` routes of authoring features: rendered fields, skips, history.

Each route needs the execution token of ``ti_id`` itself, and that try must be running.

* ``PUT .../rendered-fields`` stores the try's rendered template fields (the supervisor masked
  them). One row per try; a repeated call replaces it.
* ``PATCH .../skip-downstream`` marks tasks of the same DAG run skipped (branching,
  short-circuiting). **Trust decision:** the server holds no DAG structure, so it cannot check
  that the tasks are downstream of the caller. It accepts any task instance *of the caller's own
  run* that has not started (no state, or ``scheduled``); it never touches another run, the
  caller itself, or a task instance that is queued, running or finished. A task can already fail
  its run or delete its own XComs, so this grants nothing a running task could not do by other
  means, and the conditional ``UPDATE`` cannot race a try that has started.
* ``GET .../previous-successful-dagrun`` answers with the latest successful run of the DAG
  whose logical date is before this run's (the ``prev_*_success`` context keys).
"""

from __future__ import annotations

from datetime import UTC, datetime
from http import HTTPStatus
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends
from sqlalchemy import or_, select, tuple_, update
from starlette.responses import Response

from airlock.api.models import PrevSuccessfulDagRunResponse, TISkipDownstreamRequest
from airlock.db.models import DagRun, RenderedTaskInstanceFields, TaskInstance
from airlock.server.dependencies import (  # noqa: TC001 -- FastAPI resolves annotations at runtime
    DbSession,
    RunningTaskInstance,
    TaskInstanceClaims,
)
from airlock.server.msgspec_io import documented, json_body, json_response
from airlock.server.upsert import upsert
from airlock.states import DagRunState, TaskInstanceState

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

router = APIRouter(prefix="/task-instances", tags=["task instances"])

_ERRORS = (
    HTTPStatus.UNAUTHORIZED,
    HTTPStatus.FORBIDDEN,
    HTTPStatus.GONE,
    HTTPStatus.UNPROCESSABLE_ENTITY,
)
_NOT_STARTED = (TaskInstance.state.is_(None), TaskInstance.state == TaskInstanceState.SCHEDULED)


@router.put(
    "/{ti_id}/rendered-fields",
    **documented(request=dict[str, Any], status_code=HTTPStatus.NO_CONTENT, errors=_ERRORS),
)
def put_rendered_fields(
    ti_id: str,  # noqa: ARG001 -- checked by TaskInstanceClaims
    _claims: TaskInstanceClaims,
    ti: RunningTaskInstance,
    fields: Annotated[dict[str, Any], Depends(json_body(dict[str, Any]))],
    session: DbSession,
) -> Response:
    """Store the rendered template fields of the running try, replacing earlier ones."""
    row = {
        "ti_id": ti.id,
        "dag_id": ti.dag_id,
        "run_id": ti.run_id,
        "task_id": ti.task_id,
        "map_index": ti.map_index,
        "try_number": ti.try_number,
        "rendered_fields": fields,
        "updated_at": datetime.now(UTC),
    }
    upsert(session, RenderedTaskInstanceFields, row, key=("ti_id",))
    return Response(status_code=HTTPStatus.NO_CONTENT)


@router.patch(
    "/{ti_id}/skip-downstream",
    **documented(
        request=TISkipDownstreamRequest, status_code=HTTPStatus.NO_CONTENT, errors=_ERRORS
    ),
)
def skip_downstream(
    ti_id: str,  # noqa: ARG001 -- checked by TaskInstanceClaims
    _claims: TaskInstanceClaims,
    ti: RunningTaskInstance,
    body: Annotated[TISkipDownstreamRequest, Depends(json_body(TISkipDownstreamRequest))],
    session: DbSession,
) -> Response:
    """Mark the named task instances of the caller's run skipped, if they have not started."""
    whole = [item for item in body.tasks if isinstance(item, str)]
    pairs = [tuple(item) for item in body.tasks if not isinstance(item, str)]
    chosen = []
    if whole:
        chosen.append(TaskInstance.task_id.in_(whole))
    if pairs:
        chosen.append(tuple_(TaskInstance.task_id, TaskInstance.map_index).in_(pairs))
    if chosen:
        _skip(session, ti, or_(*chosen))
    return Response(status_code=HTTPStatus.NO_CONTENT)


def _skip(session: Session, ti: TaskInstance, chosen: Any) -> None:
    now = datetime.now(UTC)
    session.connection().execute(
        update(TaskInstance)
        .where(
            TaskInstance.dag_id == ti.dag_id,
            TaskInstance.run_id == ti.run_id,
            TaskInstance.id != ti.id,
            or_(*_NOT_STARTED),
            chosen,
        )
        .values(state=TaskInstanceState.SKIPPED, start_date=now, end_date=now, updated_at=now)
    )


@router.get(
    "/{ti_id}/previous-successful-dagrun",
    **documented(response=PrevSuccessfulDagRunResponse, errors=_ERRORS),
)
def previous_successful_dag_run(
    ti_id: str,  # noqa: ARG001 -- checked by TaskInstanceClaims
    _claims: TaskInstanceClaims,
    ti: RunningTaskInstance,
    session: DbSession,
) -> Response:
    """Answer with the latest successful run of the DAG logically before the caller's run."""
    current = select(DagRun.logical_date).where(
        DagRun.dag_id == ti.dag_id, DagRun.run_id == ti.run_id
    )
    query = (
        select(DagRun)
        .where(
            DagRun.dag_id == ti.dag_id,
            DagRun.state == DagRunState.SUCCESS,
            DagRun.logical_date < current.scalar_subquery(),
        )
        .order_by(DagRun.logical_date.desc())
        .limit(1)
    )
    run = session.scalars(query).first()
    if run is None:
        return json_response(PrevSuccessfulDagRunResponse())
    return json_response(
        PrevSuccessfulDagRunResponse(
            data_interval_start=run.data_interval_start,
            data_interval_end=run.data_interval_end,
            start_date=run.start_date,
            end_date=run.end_date,
        )
    )
