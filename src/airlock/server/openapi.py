"""The served OpenAPI document, completed with the JSON Schemas of the msgspec models.

FastAPI documents pydantic models by itself; ours are msgspec structs, so the routes point at
``#/components/schemas/<Model>`` (see :func:`airlock.server.msgspec_io.documented`) and this
module adds those components once. FastAPI's pydantic validation-error schema is replaced by
``ErrorBody``, which is what a 422 really carries.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from airlock.api.models import (
    ConnectionResponse,
    ErrorBody,
    HealthResponse,
    HeartbeatRequest,
    PrevSuccessfulDagRunResponse,
    TIRunContext,
    TIRunRequest,
    TISkipDownstreamRequest,
    TIStateUpdate,
    VariablePutRequest,
    VariableResponse,
    XComSequenceSlice,
)
from airlock.api.workloads import (
    WorkloadClaimRequest,
    WorkloadClaimResponse,
    WorkloadReleaseRequest,
    WorkloadReleaseResponse,
    WorkWaitResponse,
)
from airlock.server.msgspec_io import JSON, schema_components, schema_of

API_MODELS: tuple[Any, ...] = (
    TIRunRequest,
    TIRunContext,
    TIStateUpdate,
    HeartbeatRequest,
    VariableResponse,
    VariablePutRequest,
    ConnectionResponse,
    HealthResponse,
    XComSequenceSlice,
    TISkipDownstreamRequest,
    PrevSuccessfulDagRunResponse,
    WorkloadClaimRequest,
    WorkloadClaimResponse,
    WorkloadReleaseRequest,
    WorkloadReleaseResponse,
    WorkWaitResponse,
    ErrorBody,
)
"""Every model the Execution API reads or writes."""

_PYDANTIC_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


class ExecutionApi(FastAPI):
    """A FastAPI app whose OpenAPI document describes airlock's msgspec models."""

    def openapi(self) -> dict[str, Any]:
        """Return the OpenAPI document, built on first use."""
        if self.openapi_schema is None:
            document = get_openapi(
                title=self.title,
                version=self.version,
                description=self.description,
                routes=self.routes,
            )
            self.openapi_schema = with_msgspec_models(document)
        return self.openapi_schema


def with_msgspec_models(document: dict[str, Any]) -> dict[str, Any]:
    """Add the models' schemas to ``document`` and make its 422 answers ``ErrorBody``."""
    schemas: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    for name in _PYDANTIC_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    schemas.update(schema_components(API_MODELS))
    error_content = {JSON: {"schema": schema_of(ErrorBody)}}
    for operation in _operations(document):
        unprocessable = operation.get("responses", {}).get("422")
        if unprocessable is not None:
            unprocessable["content"] = error_content
    return document


def _operations(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [operation for path in document.get("paths", {}).values() for operation in path.values()]
