"""msgspec glue for FastAPI: request bodies in, responses out, and their OpenAPI description.

The API's models (``airlock.api.models``) are msgspec structs, not pydantic models, so FastAPI
neither parses nor documents them by itself. Routes take a decoded body from the dependency
:func:`json_body`, answer with :func:`json_response`, and describe both with :func:`documented`.
"""

from __future__ import annotations

import functools
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import msgspec
from starlette.requests import Request  # noqa: TC002 -- FastAPI resolves annotations at runtime
from starlette.responses import Response

from airlock.api.models import ErrorBody
from airlock.server.errors import HTTPProblem

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

SCHEMA_REF_TEMPLATE = "#/components/schemas/{name}"
JSON = "application/json"

_ENCODER = msgspec.json.Encoder()


@functools.cache
def _decoder(model: Any) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(model)


def decode(model: Any, body: bytes) -> Any:
    """Decode and validate a JSON body as ``model``.

    Raises:
        HTTPProblem: 422 ``invalid_body`` with msgspec's explanation.
    """
    try:
        return _decoder(model).decode(body)
    except msgspec.DecodeError as exc:
        raise HTTPProblem(HTTPStatus.UNPROCESSABLE_ENTITY, "invalid_body", str(exc)) from None


def json_body(model: Any) -> Callable[[Request], Awaitable[Any]]:
    """Return a FastAPI dependency that reads the request body and decodes it as ``model``."""

    async def read_body(request: Request) -> Any:
        return decode(model, await request.body())

    return read_body


def json_response(
    value: msgspec.Struct,
    status_code: int = HTTPStatus.OK,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Encode ``value`` as a JSON response."""
    return Response(
        _ENCODER.encode(value), status_code=status_code, headers=headers, media_type=JSON
    )


def schema_of(model: Any) -> dict[str, Any]:
    """Return the JSON Schema of ``model`` as it appears in an operation: usually a ``$ref``."""
    (schema,), _ = msgspec.json.schema_components([model], ref_template=SCHEMA_REF_TEMPLATE)
    return schema


def schema_components(models: tuple[Any, ...]) -> dict[str, Any]:
    """Return the ``components.schemas`` entries that describe ``models``."""
    _, components = msgspec.json.schema_components(models, ref_template=SCHEMA_REF_TEMPLATE)
    return components


def documented(
    *,
    request: Any = None,
    response: Any = None,
    status_code: int = HTTPStatus.OK,
    errors: tuple[int, ...] = (),
) -> dict[str, Any]:
    """Return route keyword arguments describing a route's bodies in the OpenAPI document.

    Args:
        request: the model of the request body, if any.
        response: the model of the success body, if any.
        status_code: the success status.
        errors: the error statuses the route answers with an ``ErrorBody``.
    """
    responses: dict[int | str, dict[str, Any]] = {
        code: _content(HTTPStatus(code).phrase, ErrorBody) for code in errors
    }
    if response is not None:
        responses[status_code] = _content("Success", response)
    route: dict[str, Any] = {"status_code": status_code, "responses": responses}
    if request is not None:
        content = {JSON: {"schema": schema_of(request)}}
        route["openapi_extra"] = {"requestBody": {"required": True, "content": content}}
    return route


def _content(description: str, model: Any) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema_of(model)}}}
