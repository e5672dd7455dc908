"""The supervisor's end of a runner's request socket: frames in and out, never blocking the loop."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from airlock.execution.frame_buffer import FrameBuffer
from airlock.execution.frames import encode_frame

if TYPE_CHECKING:
    import socket

    from airlock.execution.protocol import ResponseFrame


class RunnerChannel:
    """The supervisor's end of one runner's request socket, read and written without blocking."""

    def __init__(self, sock: socket.socket, max_frame_bytes: int) -> None:
        self._sock = sock
        self._max = max_frame_bytes
        self._loop = asyncio.get_running_loop()
        self._buffer = FrameBuffer(max_frame_bytes)

    async def send(self, frame: ResponseFrame) -> None:
        """Send one frame, waiting (without blocking the loop) while the socket is full."""
        await self._loop.sock_sendall(self._sock, encode_frame(frame, max_bytes=self._max))

    async def receive(self) -> bytearray | None:
        """Return the next frame's body, or ``None`` when the runner closed its end cleanly."""
        buffer = self._buffer
        while (body := buffer.next_body()) is None:
            if buffer.wants_large_read():
                await self._read_rest()
                continue
            count = await self._loop.sock_recv_into(self._sock, buffer.scratch())
            if count == 0:
                if buffer.empty:
                    return None
                raise buffer.closed_error("runner")
            buffer.received(count)
        return body

    async def _read_rest(self) -> None:
        view = self._buffer.reserve_rest()
        try:
            received = 0
            while received < len(view):
                count = await self._loop.sock_recv_into(self._sock, view[received:])
                if count == 0:
                    self._buffer.filled(received)
                    raise self._buffer.closed_error("runner")
                received += count
            self._buffer.filled(received)
        finally:
            view.release()
