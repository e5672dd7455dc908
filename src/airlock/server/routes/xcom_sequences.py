"""``/xcom-sequences/{dag_id}/{run_id}/{task_id}/{key}``: the values of a mapped task, in order.

A task downstream of a mapped task reads the mapped task instances' values as one sequence,
ordered by map index (task instances that stored nothing are left out, as in Airflow). The
route answers the sequence's length and the items of a Python-style slice
(``?start=&stop=&step=``) in one response, so a task that iterates over all of them makes one
request, and one that asks ``len()`` gets no values at all (``stop=0``). The token's task
instance must be running, and may read the sequences of its own DAG only.
"""

from __future__ import annotations

from http import HTTPStatus

import msgspec
from fastapi import APIRouter
from sqlalchemy import func, select
from starlette.responses import Response  # noqa: TC002 -- FastAPI resolves annotations at runtime

from airlock.api.models import XComSequenceSlice
from airlock.db.models import XCom
from airlock.server.dependencies import (  # noqa: TC001 -- FastAPI resolves them at runtime
    DbSession,
    OptionalQueryInt,
    RunningTaskInstance,
)
from airlock.server.errors import HTTPProblem
from airlock.server.msgspec_io import documented, json_response

router = APIRouter(prefix="/xcom-sequences", tags=["xcoms"])

_ERRORS = (
    HTTPStatus.BAD_REQUEST,
    HTTPStatus.UNAUTHORIZED,
    HTTPStatus.FORBIDDEN,
    HTTPStatus.GONE,
    HTTPStatus.UNPROCESSABLE_ENTITY,
)


@router.get(
    "/{dag_id}/{run_id}/{task_id}/{key:path}",
    **documented(response=XComSequenceSlice, errors=_ERRORS),
)
def get_xcom_sequence(
    *,
    ti: RunningTaskInstance,
    session: DbSession,
    dag_id: str,
    run_id: str,
    task_id: str,
    key: str,
    start: OptionalQueryInt = None,
    stop: OptionalQueryInt = None,
    step: OptionalQueryInt = None,
) -> Response:
    """Answer the number of mapped values and the values of the slice ``start:stop:step``."""
    if step == 0:
        raise HTTPProblem(HTTPStatus.BAD_REQUEST, "invalid_slice", "the slice step cannot be 0")
    if dag_id != ti.dag_id:
        raise HTTPProblem(
            HTTPStatus.FORBIDDEN,
            "forbidden_xcom",
            f"task instance {ti.id} of DAG {ti.dag_id!r} cannot read the XComs of DAG {dag_id!r}",
        )
    where = (
        XCom.dag_id == dag_id,
        XCom.run_id == run_id,
        XCom.task_id == task_id,
        XCom.key == key,
        XCom.map_index >= 0,
    )
    length = int(session.scalar(select(func.count()).where(*where)) or 0)
    positions = range(length)[slice(start, stop, step)]
    if not positions:
        return json_response(XComSequenceSlice(length=length))
    low, high = min(positions), max(positions)
    query = select(XCom.value).where(*where).order_by(XCom.map_index)
    rows = list(session.scalars(query.offset(low).limit(high - low + 1)))
    values = [msgspec.Raw(rows[position - low]) for position in positions]
    return json_response(XComSequenceSlice(length=length, values=values))
