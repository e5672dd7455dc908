"""The supervisor's event loop: uvloop when it is installed, else asyncio's own.

The supervisor spends its time moving frames between sockets; on uvloop the request socket
carries about 1.6 times the round trips per second of the asyncio loop, as many as a bare
socketpair echo written with the same calls (``benchmarks/bench_protocol.py``). Only the
trusted side runs a loop: the runner is synchronous and never imports this.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from collections.abc import Coroutine
    from typing import Any

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to completion on a new loop (uvloop when available) and return its result."""
    try:
        import uvloop  # noqa: PLC0415 -- optional: a platform without it uses asyncio's loop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A new loop (uvloop when available), for a thread that runs one of its own."""
    try:
        import uvloop  # noqa: PLC0415 -- optional, as above
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()
