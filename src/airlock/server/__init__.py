"""The Execution API server: what a task instance's supervisor may do on its behalf.

The names below are imported on first use, so importing ``airlock.server.auth`` (to mint
tokens) does not load the whole web application.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airlock.server.app import create_app
    from airlock.server.auth import TokenClaims, TokenSigner

__all__ = ["TokenClaims", "TokenSigner", "create_app"]

_HOMES = {
    "create_app": "airlock.server.app",
    "TokenClaims": "airlock.server.auth",
    "TokenSigner": "airlock.server.auth",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
