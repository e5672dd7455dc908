"""``GET /health``: is the API up, and which airlock answers. No token needed."""

from __future__ import annotations

from importlib import metadata

from fastapi import APIRouter
from starlette.responses import Response  # noqa: TC002 -- FastAPI resolves annotations at runtime

from airlock.api.models import HealthResponse
from airlock.server.msgspec_io import documented, json_response

router = APIRouter(tags=["health"])


def _package_version() -> str:
    try:
        return metadata.version("airlock")
    except metadata.PackageNotFoundError:
        return "0+unknown"


VERSION = _package_version()
"""The version of the airlock package serving the API."""


@router.get("/health", **documented(response=HealthResponse))
async def health() -> Response:
    """Tell that the API is up, and its version."""
    return json_response(HealthResponse(version=VERSION))
