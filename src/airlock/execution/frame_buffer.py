"""Reading frames out of a byte stream with as few ``recv`` calls as possible.

Both ends of the request socket read through a ``FrameBuffer``: whatever one ``recv`` brings
(up to 64 KiB) is kept, and frames are cut out of it, so a small frame costs one system call,
not two (header, then body). The rest of a body larger than that is read straight into place.
"""

from __future__ import annotations

from typing import Final

from airlock.execution.frames import HEADER_SIZE, FrameError, body_length

CHUNK: Final = 64 * 1024


class FrameBuffer:
    """Bytes received but not yet consumed, and the cutting of frame bodies out of them."""

    def __init__(self, max_frame_bytes: int) -> None:
        self._max = max_frame_bytes
        self._data = bytearray()
        self._scratch = bytearray(CHUNK)
        self._filled = 0  # bytes of _data that hold received data (the rest is reserved)

    def next_body(self) -> bytearray | None:
        """Cut the next complete frame's body out of the buffer, or ``None`` if incomplete."""
        end = self._frame_end()
        if end is None or self._filled < end:
            return None
        body = self._data[HEADER_SIZE:end]
        del self._data[:end]
        self._filled -= end
        return body

    def wants_large_read(self) -> bool:
        """Whether the frame at the head lacks more than one chunk: read it into place."""
        end = self._frame_end()
        return end is not None and end - self._filled > CHUNK

    def scratch(self) -> memoryview:
        """A buffer to ``recv_into``; hand the count to :meth:`received`."""
        return memoryview(self._scratch)

    def received(self, count: int) -> None:
        """Keep ``count`` bytes just read into the scratch buffer."""
        self._data += self._scratch[:count]
        self._filled += count

    def reserve_rest(self) -> memoryview:
        """Room for the rest of the frame at the head, to ``recv_into`` directly.

        Report each count with :meth:`filled`; release the view before anything else.
        """
        end = self._frame_end()
        if end is None:
            raise FrameError("no frame header to read a body for")
        self._data.extend(bytes(end - len(self._data)))
        return memoryview(self._data)[self._filled : end]

    def filled(self, count: int) -> None:
        """Count ``count`` bytes written into the view from :meth:`reserve_rest`."""
        self._filled += count

    def closed_error(self, peer: str) -> FrameError:
        """The error for a peer that closed the connection in the middle of a frame."""
        end = self._frame_end()
        if end is None:
            return FrameError(
                f"the {peer} closed the connection after {self._filled} of {HEADER_SIZE} bytes"
            )
        return FrameError(
            f"the {peer} closed the connection after {self._filled - HEADER_SIZE} of "
            f"{end - HEADER_SIZE} bytes"
        )

    @property
    def empty(self) -> bool:
        """Whether nothing is buffered (a close now is a clean end)."""
        return self._filled == 0

    def _frame_end(self) -> int | None:
        if self._filled < HEADER_SIZE:
            return None
        return HEADER_SIZE + body_length(self._data[:HEADER_SIZE], self._max)
