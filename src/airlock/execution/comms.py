"""The runner's end of the request socket: send one request, read its one response.

The runner is serial. ``SupervisorChannel.request`` holds a lock, writes one frame and reads
exactly one back, checking that the response's id echoes the request's. Any malformed or
missing response raises ``ProtocolError``: the runner never waits on a frame that cannot come.
"""

from __future__ import annotations

import itertools
import threading
from typing import TYPE_CHECKING, TypeVar

from airlock.exceptions import ProtocolError, TaskRuntimeError
from airlock.execution.frame_buffer import FrameBuffer
from airlock.execution.frames import DEFAULT_MAX_FRAME_BYTES, decode_response, encode_frame
from airlock.execution.protocol import (
    ErrorKind,
    ErrorResponse,
    RequestFrame,
    ResponseFrame,
    StartupDetails,
    ToRunner,
    ToSupervisor,
)

if TYPE_CHECKING:
    import socket

ResultT = TypeVar("ResultT", bound=ToRunner)

_channel: SupervisorChannel | None = None


class SupervisorChannel:
    """A blocking request/response channel to the supervisor over a connected socket."""

    def __init__(
        self, sock: socket.socket, *, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
    ) -> None:
        self._sock = sock
        self._max_frame_bytes = max_frame_bytes
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._buffer = FrameBuffer(max_frame_bytes)

    def read_startup(self) -> StartupDetails:
        """Read the unasked ``StartupDetails`` frame the supervisor sends first."""
        frame = self._read_frame()
        if frame.id != 0 or not isinstance(frame.body, StartupDetails):
            raise ProtocolError(
                f"expected StartupDetails with id 0 first, got {type(frame.body).__name__} "
                f"with id {frame.id}"
            )
        return frame.body

    def request(self, message: ToSupervisor) -> ToRunner:
        """Send ``message`` and return the supervisor's response to it."""
        with self._lock:
            request_id = next(self._ids)
            frame = encode_frame(RequestFrame(request_id, message), max_bytes=self._max_frame_bytes)
            self._sock.sendall(frame)
            response = self._read_frame()
        if response.id != request_id:
            raise ProtocolError(
                f"response id {response.id} does not match request id {request_id} "
                f"({type(message).__name__})"
            )
        return response.body

    def call(self, message: ToSupervisor, expected: type[ResultT]) -> ResultT:
        """Send ``message`` and return its result, raising if it was refused.

        Raises:
            TaskRuntimeError: the supervisor answered with an ``ErrorResponse``.
            ProtocolError: the answer is of a type the request cannot have.
        """
        return self._check(message, self.request(message), expected)

    @staticmethod
    def _check(message: ToSupervisor, body: ToRunner, expected: type[ResultT]) -> ResultT:
        if isinstance(body, expected):
            return body
        if isinstance(body, ErrorResponse):
            raise TaskRuntimeError(f"{type(message).__name__} was refused: {body.detail}")
        raise ProtocolError(
            f"{type(message).__name__} got a {type(body).__name__}, expected {expected.__name__}"
        )

    def call_optional(
        self, message: ToSupervisor, expected: type[ResultT], missing: ErrorKind
    ) -> ResultT | None:
        """Like ``call``, but return ``None`` when the answer is an error of kind ``missing``."""
        body = self.request(message)
        if isinstance(body, ErrorResponse) and body.error is missing:
            return None
        return self._check(message, body, expected)

    def close(self) -> None:
        """Close the socket."""
        self._sock.close()

    def _read_frame(self) -> ResponseFrame:
        buffer = self._buffer
        while (body := buffer.next_body()) is None:
            if buffer.wants_large_read():
                self._read_rest(buffer)
                continue
            count = self._sock.recv_into(buffer.scratch())
            if count == 0:
                raise buffer.closed_error("supervisor")
            buffer.received(count)
        return decode_response(body)

    def _read_rest(self, buffer: FrameBuffer) -> None:
        view = buffer.reserve_rest()
        try:
            received = 0
            while received < len(view):
                count = self._sock.recv_into(view[received:])
                if count == 0:
                    buffer.filled(received)
                    raise buffer.closed_error("supervisor")
                received += count
            buffer.filled(received)
        finally:
            view.release()


def install_channel(channel: SupervisorChannel | None) -> None:
    """Make ``channel`` the one task code talks through (set by the runner at startup)."""
    global _channel  # noqa: PLW0603 -- one channel per runner process, by design
    _channel = channel


def get_channel() -> SupervisorChannel:
    """Return the channel to the supervisor of the task running in this process.

    Raises:
        RuntimeError: no task is running in this process.
    """
    if _channel is None:
        raise RuntimeError(
            "no task is running in this process: Variables, Connections and XComs are "
            "available only inside a running task (or through airlock.testing)"
        )
    return _channel
