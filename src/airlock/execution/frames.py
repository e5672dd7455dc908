"""Frames: a 4-byte big-endian unsigned length, then a msgpack body ``[id, message]``.

Both ends encode with one reusable ``msgspec.msgpack.Encoder`` into a buffer whose first four
bytes are left free for the length, and decode with one typed ``Decoder`` per direction, built
at import time. Everything that can go wrong with a frame (too long, truncated, trailing bytes,
an unknown message, a field of the wrong type) raises ``ProtocolError`` with a message that
says which.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Final

import msgspec

from airlock.exceptions import ProtocolError
from airlock.execution.protocol import RequestFrame, ResponseFrame

if TYPE_CHECKING:
    from typing import TypeAlias

    Buffer: TypeAlias = bytes | bytearray | memoryview

HEADER: Final = struct.Struct(">I")
HEADER_SIZE: Final = HEADER.size
DEFAULT_MAX_FRAME_BYTES: Final = 64 * 1024 * 1024
"""Largest body accepted by default: above the default XCom size limit plus room for framing."""

_encoder = msgspec.msgpack.Encoder()
_request_decoder = msgspec.msgpack.Decoder(RequestFrame)
_response_decoder = msgspec.msgpack.Decoder(ResponseFrame)
_id_decoder = msgspec.msgpack.Decoder(tuple[int, msgspec.Raw])


class FrameError(ProtocolError):
    """A frame could not be decoded; ``frame_id`` is set when the id itself was readable."""

    def __init__(self, message: str, frame_id: int | None = None) -> None:
        super().__init__(message)
        self.frame_id = frame_id


def encode_frame(
    frame: RequestFrame | ResponseFrame, *, max_bytes: int = DEFAULT_MAX_FRAME_BYTES
) -> bytearray:
    """Encode ``frame`` with its length header, ready to send.

    Raises:
        FrameError: the encoded body is longer than ``max_bytes``.
    """
    buf = bytearray()
    _encoder.encode_into(frame, buf, HEADER_SIZE)
    size = len(buf) - HEADER_SIZE
    check_length(size, max_bytes, "send")
    HEADER.pack_into(buf, 0, size)
    return buf


def check_length(size: int, max_bytes: int, direction: str = "receive") -> None:
    """Refuse a frame body longer than ``max_bytes``."""
    if size > max_bytes:
        raise FrameError(
            f"refusing to {direction} a frame of {size} bytes: the limit is {max_bytes} bytes"
        )


def body_length(header: Buffer, max_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> int:
    """Read the body length out of a 4-byte header, refusing one over ``max_bytes``."""
    (size,) = HEADER.unpack(header)
    check_length(size, max_bytes)
    return int(size)


def decode_request(body: Buffer) -> RequestFrame:
    """Decode a runner's request body (the bytes after the header)."""
    try:
        return _request_decoder.decode(body)
    except msgspec.MsgspecError as exc:
        raise FrameError(f"malformed request: {exc}", _peek_id(body)) from None


def decode_response(body: Buffer) -> ResponseFrame:
    """Decode a supervisor's message body (the bytes after the header)."""
    try:
        return _response_decoder.decode(body)
    except msgspec.MsgspecError as exc:
        raise FrameError(f"malformed response: {exc}", _peek_id(body)) from None


def _peek_id(body: Buffer) -> int | None:
    """Recover the id of a frame whose message could not be decoded, if the frame is sound."""
    try:
        return _id_decoder.decode(body)[0]
    except msgspec.MsgspecError:
        return None
