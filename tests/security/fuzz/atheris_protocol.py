"""Coverage-guided fuzzing of the runner<->supervisor frames with atheris (libFuzzer).

Run it directly, e.g. ``python tests/security/fuzz/atheris_protocol.py -runs=1000000``; the test
suite runs a short, seeded session (``test_protocol_fuzz.py::test_atheris_finds_nothing``). Any
exception other than ``ProtocolError`` is a finding: libFuzzer stops and saves the input.
"""

from __future__ import annotations

import contextlib
import sys

import atheris

with atheris.instrument_imports():
    from airlock.exceptions import ProtocolError
    from airlock.execution.frame_buffer import FrameBuffer
    from airlock.execution.frames import decode_request, decode_response

MAX_FRAME = 64 * 1024


def one_input(data: bytes) -> None:
    """Feed ``data`` to both decoders, and as a stream to a frame buffer in uneven pieces."""
    for decode in (decode_request, decode_response):
        with contextlib.suppress(ProtocolError):
            decode(data)
    buffer = FrameBuffer(MAX_FRAME)
    step = (data[0] % 7 + 1) if data else 1
    try:
        for start in range(0, len(data), step):
            piece = data[start : start + step]
            buffer.scratch()[: len(piece)] = piece
            buffer.received(len(piece))
            while (body := buffer.next_body()) is not None:
                with contextlib.suppress(ProtocolError):
                    decode_request(body)
    except ProtocolError:
        pass


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
