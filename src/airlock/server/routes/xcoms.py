"""``/xcoms/{dag_id}/{run_id}/{task_id}/{key}``: the values task instances pass each other.

A value is stored and returned as the JSON bytes the runner sent, never re-encoded. The token's
task instance must be running; it may read any XCom of its own DAG, and write or delete only
its own (same DAG, run, task and map index).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Depends
from sqlalchemy import Select, delete, select
from starlette.requests import Request  # noqa: TC002 -- FastAPI resolves annotations at runtime
from starlette.responses import Response

from airlock.db.models import DagRun, XCom
from airlock.server.dependencies import DbSession, QueryInt, RunningTaskInstance, server_state
from airlock.server.errors import HTTPProblem
from airlock.server.msgspec_io import JSON, documented
from airlock.server.upsert import upsert
from airlock.server.xcom_length import value_length

router = APIRouter(prefix="/xcoms", tags=["xcoms"])

PATH = "/{dag_id}/{run_id}/{task_id}/{key:path}"
_ERRORS = (
    HTTPStatus.BAD_REQUEST,
    HTTPStatus.UNAUTHORIZED,
    HTTPStatus.FORBIDDEN,
    HTTPStatus.GONE,
    HTTPStatus.UNPROCESSABLE_ENTITY,
)
_JSON_CHECKER = msgspec.json.Decoder(msgspec.Raw)


@dataclass(frozen=True, slots=True)
class XComAddress:
    """Where an XCom lives: the task instance that pushed it, and its key."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    key: str

    @property
    def pusher(self) -> str:
        """The task instance that pushed the XCom, as ``dag/run/task[map_index]``."""
        return f"{self.dag_id}/{self.run_id}/{self.task_id}[{self.map_index}]"

    def where(self) -> tuple[Any, ...]:
        """The SQL conditions that select this XCom."""
        return (
            XCom.dag_id == self.dag_id,
            XCom.run_id == self.run_id,
            XCom.task_id == self.task_id,
            XCom.map_index == self.map_index,
            XCom.key == self.key,
        )


def xcom_address(
    dag_id: str, run_id: str, task_id: str, key: str, map_index: QueryInt = -1
) -> XComAddress:
    """Read the XCom's address from the path and the ``map_index`` query parameter."""
    if not key:
        raise HTTPProblem(HTTPStatus.BAD_REQUEST, "invalid_xcom_key", "an XCom key cannot be empty")
    return XComAddress(dag_id, run_id, task_id, map_index, key)


def readable(
    ti: RunningTaskInstance, address: Annotated[XComAddress, Depends(xcom_address)]
) -> XComAddress:
    """Allow reading an XCom of the token's own DAG only."""
    if address.dag_id != ti.dag_id:
        raise _forbidden(
            f"task instance {ti.id} of DAG {ti.dag_id!r} "
            f"cannot read the XComs of DAG {address.dag_id!r}"
        )
    return address


def writable(
    ti: RunningTaskInstance, address: Annotated[XComAddress, Depends(xcom_address)]
) -> XComAddress:
    """Allow writing or deleting only the token's own XComs."""
    own = XComAddress(ti.dag_id, ti.run_id, ti.task_id, ti.map_index, address.key)
    if address != own:
        raise _forbidden(
            f"task instance {ti.id} ({own.pusher}) cannot change the XComs of {address.pusher}"
        )
    return address


async def xcom_value(request: Request) -> bytes:
    """Read the request body: JSON of at most the server's ``xcom_max_bytes``.

    Raises:
        HTTPProblem: 413 ``xcom_too_large``; 400 ``invalid_xcom_value`` for anything but JSON.
    """
    body = await _read_at_most(request, server_state(request).xcom_max_bytes)
    try:
        body.decode()
        _JSON_CHECKER.decode(body)
    except (UnicodeDecodeError, msgspec.DecodeError) as exc:
        raise HTTPProblem(
            HTTPStatus.BAD_REQUEST, "invalid_xcom_value", f"an XCom value must be JSON: {exc}"
        ) from None
    return body


@router.get(PATH, **documented(response=Any, errors=(*_ERRORS, HTTPStatus.NOT_FOUND)))
def get_xcom(
    address: Annotated[XComAddress, Depends(readable)],
    session: DbSession,
    include_prior_dates: bool = False,
) -> Response:
    """Answer with the stored JSON value itself.

    With ``include_prior_dates=true``, answer with the value of the latest run of the DAG whose
    logical date is not after the addressed run's (that run included), as Airflow does.
    """
    if include_prior_dates:
        value = session.scalar(_latest_up_to_run(address))
    else:
        value = session.scalar(select(XCom.value).where(*address.where()))
    if value is None:
        raise HTTPProblem(
            HTTPStatus.NOT_FOUND,
            "xcom_not_found",
            f"{address.pusher} has no XCom {address.key!r}",
        )
    return Response(value, media_type=JSON)


@router.post(
    PATH,
    **documented(
        request=Any,
        status_code=HTTPStatus.CREATED,
        errors=(*_ERRORS, HTTPStatus.REQUEST_ENTITY_TOO_LARGE),
    ),
)
def set_xcom(
    address: Annotated[XComAddress, Depends(writable)],
    value: Annotated[bytes, Depends(xcom_value)],
    session: DbSession,
) -> Response:
    """Store a JSON value under the key, replacing any value stored there before."""
    row = {
        "dag_id": address.dag_id,
        "run_id": address.run_id,
        "task_id": address.task_id,
        "map_index": address.map_index,
        "key": address.key,
        "value": value,
        "length": value_length(value),
        "created_at": datetime.now(UTC),
    }
    upsert(session, XCom, row, key=("dag_id", "run_id", "task_id", "map_index", "key"))
    return Response(status_code=HTTPStatus.CREATED)


@router.delete(PATH, **documented(status_code=HTTPStatus.NO_CONTENT, errors=_ERRORS))
def delete_xcom(address: Annotated[XComAddress, Depends(writable)], session: DbSession) -> Response:
    """Delete the value stored under the key, if any."""
    session.execute(delete(XCom).where(*address.where()))
    return Response(status_code=HTTPStatus.NO_CONTENT)


def _latest_up_to_run(address: XComAddress) -> Select[bytes]:
    """Select the value of ``address`` in the latest run up to the addressed run's date."""
    run_date = select(DagRun.logical_date).where(
        DagRun.dag_id == address.dag_id, DagRun.run_id == address.run_id
    )
    return (
        select(XCom.value)
        .join(DagRun, (DagRun.dag_id == XCom.dag_id) & (DagRun.run_id == XCom.run_id))
        .where(
            XCom.dag_id == address.dag_id,
            XCom.task_id == address.task_id,
            XCom.map_index == address.map_index,
            XCom.key == address.key,
            DagRun.logical_date <= run_date.scalar_subquery(),
        )
        .order_by(DagRun.logical_date.desc(), XCom.created_at.desc())
        .limit(1)
    )


async def _read_at_most(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(int(declared), limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
    if size > limit:
        raise _too_large(size, limit)
    return b"".join(chunks)


def _too_large(size: int, limit: int) -> HTTPProblem:
    return HTTPProblem(
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
        "xcom_too_large",
        f"the XCom value is {size} bytes, more than the limit of {limit} bytes; "
        "store large data elsewhere and push a reference to it",
    )


def _forbidden(message: str) -> HTTPProblem:
    return HTTPProblem(HTTPStatus.FORBIDDEN, "forbidden_xcom", message)
