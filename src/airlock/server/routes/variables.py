"""``/variables/{key}``: the key/value settings tasks read and write.

The token's task instance must be running.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy import delete
from starlette.responses import Response

from airlock.api.models import VariablePutRequest, VariableResponse
from airlock.db.models import Variable
from airlock.server.dependencies import (  # noqa: TC001 -- FastAPI resolves annotations at runtime
    DbSession,
    RunningTaskInstance,
)
from airlock.server.errors import HTTPProblem
from airlock.server.msgspec_io import documented, json_body, json_response
from airlock.server.upsert import upsert

router = APIRouter(prefix="/variables", tags=["variables"])

PATH = "/{key:path}"
_ERRORS = (
    HTTPStatus.BAD_REQUEST,
    HTTPStatus.UNAUTHORIZED,
    HTTPStatus.FORBIDDEN,
    HTTPStatus.GONE,
    HTTPStatus.UNPROCESSABLE_ENTITY,
)


def variable_key(_ti: RunningTaskInstance, key: str) -> str:
    """Authorise the request and return the Variable's key from the path; it cannot be empty."""
    if not key:
        raise HTTPProblem(
            HTTPStatus.BAD_REQUEST, "invalid_variable_key", "a Variable key cannot be empty"
        )
    return key


Key = Annotated[str, Depends(variable_key)]


@router.get(PATH, **documented(response=VariableResponse, errors=(*_ERRORS, HTTPStatus.NOT_FOUND)))
def get_variable(key: Key, session: DbSession) -> Response:
    """Answer with the Variable's value and description."""
    variable = session.get(Variable, key)
    if variable is None:
        raise HTTPProblem(
            HTTPStatus.NOT_FOUND, "variable_not_found", f"Variable {key!r} does not exist"
        )
    answer = VariableResponse(key=key, value=variable.value, description=variable.description)
    return json_response(answer)


@router.put(
    PATH,
    **documented(request=VariablePutRequest, status_code=HTTPStatus.NO_CONTENT, errors=_ERRORS),
)
def put_variable(
    key: Key,
    body: Annotated[VariablePutRequest, Depends(json_body(VariablePutRequest))],
    session: DbSession,
) -> Response:
    """Create the Variable, or replace its value and description."""
    row = {"key": key, "value": body.value, "description": body.description}
    upsert(session, Variable, row, key=("key",))
    return Response(status_code=HTTPStatus.NO_CONTENT)


@router.delete(PATH, **documented(status_code=HTTPStatus.NO_CONTENT, errors=_ERRORS))
def delete_variable(key: Key, session: DbSession) -> Response:
    """Delete the Variable; deleting one that does not exist is not an error."""
    session.execute(delete(Variable).where(Variable.key == key))
    return Response(status_code=HTTPStatus.NO_CONTENT)
