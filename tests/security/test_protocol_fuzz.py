"""Random, truncated, oversized and type-confused frames get a ProtocolError, never worse.

Both real channel ends are driven over a socketpair: the supervisor's ``RunnerChannel`` (asyncio)
and the runner's ``SupervisorChannel`` (blocking), plus the pure decoders. "Never worse" means:
no other exception, no hang (every read has a deadline), and no buffer beyond the frame limit.
The coverage-guided counterpart is ``fuzz/atheris_protocol.py`` (``test_atheris_finds_nothing``).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airlock.exceptions import ProtocolError
from airlock.execution import protocol
from airlock.execution.comms import SupervisorChannel
from airlock.execution.frames import FrameError, decode_request, decode_response, encode_frame
from airlock.execution.protocol import GetVariable, OKResponse, RequestFrame
from airlock.execution.runner_channel import RunnerChannel

MAX_FRAME = 64 * 1024
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TAGS = sorted(
    name
    for name, value in vars(protocol).items()
    if isinstance(value, type)
    and issubclass(value, protocol.Message)
    and value is not protocol.Message
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=True),
    st.text(max_size=40),
    st.binary(max_size=40),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
fields = st.sampled_from(
    ["key", "value", "task_id", "conn_id", "state", "reason", "values", "fields"]
)
confused_bodies = st.builds(
    lambda tag, extra: {"type": tag, **extra},
    st.sampled_from([*TAGS, "NoSuchMessage"]),
    st.dictionaries(fields, values, max_size=4),
)
confused_frames = st.tuples(st.integers(min_value=0, max_value=2**32), confused_bodies).map(
    lambda frame: msgspec.msgpack.encode(list(frame))
)
bodies = st.one_of(st.binary(max_size=2048), confused_frames)


def framed(body: bytes, claimed: int | None = None) -> bytes:
    """``body`` behind a length header that claims ``claimed`` bytes (default: its length)."""
    return struct.pack(">I", len(body) if claimed is None else claimed) + body


streams = st.one_of(
    bodies.map(framed),
    st.tuples(bodies, st.integers(min_value=0, max_value=2**32 - 1)).map(lambda t: framed(*t)),
    st.binary(max_size=4096),
    st.lists(bodies.map(framed), max_size=4).map(b"".join),
)


@FUZZ
@given(bodies)
def test_the_request_decoder_accepts_or_refuses_cleanly(body):
    """Any bytes decode to a request or raise FrameError; a readable id is kept for the answer."""
    try:
        frame: RequestFrame | FrameError = decode_request(body)
    except FrameError as exc:
        frame = exc
    if isinstance(frame, FrameError):
        assert frame.frame_id is None or isinstance(frame.frame_id, int)
    else:
        assert isinstance(frame, RequestFrame)


@FUZZ
@given(bodies)
def test_the_response_decoder_accepts_or_refuses_cleanly(body):
    """Any bytes decode to a supervisor message or raise FrameError, nothing else."""
    with contextlib.suppress(FrameError):
        decode_response(body)


async def _supervisor_reads(stream: bytes) -> list[bytes]:
    ours, theirs = socket.socketpair()
    ours.setblocking(False)  # noqa: FBT003 -- socket API
    channel = RunnerChannel(ours, MAX_FRAME)
    theirs.sendall(stream)
    theirs.close()
    received = []
    try:
        async with asyncio.timeout(5):
            while (body := await channel.receive()) is not None:
                received.append(bytes(body))
                with contextlib.suppress(FrameError):
                    decode_request(body)
    finally:
        ours.close()
    return received


@FUZZ
@given(streams)
def test_the_supervisor_end_never_hangs_or_crashes(stream):
    """The supervisor's channel reads any byte stream to its end or stops with ProtocolError."""
    try:
        received = asyncio.run(_supervisor_reads(stream))
    except ProtocolError:
        return
    assert all(len(body) <= MAX_FRAME for body in received)


@FUZZ
@given(streams)
def test_the_runner_end_never_hangs_or_crashes(stream):
    """The runner's channel answers any byte stream with a message or a ProtocolError."""
    runner_end, supervisor_end = socket.socketpair()
    runner_end.settimeout(5)  # a hang becomes a TimeoutError, which fails the test
    channel = SupervisorChannel(runner_end, max_frame_bytes=MAX_FRAME)
    supervisor_end.sendall(stream)
    supervisor_end.close()
    try:
        channel.read_startup()
        channel.request(GetVariable(key="k"))
    except ProtocolError:
        pass
    finally:
        channel.close()


def test_an_oversized_length_is_refused_before_its_body_is_read():
    """A header claiming more than the limit is refused at once, without buffering its body."""
    ours, theirs = socket.socketpair()
    ours.setblocking(False)  # noqa: FBT003 -- socket API
    theirs.sendall(struct.pack(">I", MAX_FRAME + 1))  # and keep the socket open: no EOF to save us

    async def read() -> None:
        async with asyncio.timeout(5):
            await RunnerChannel(ours, MAX_FRAME).receive()

    with pytest.raises(FrameError, match=f"the limit is {MAX_FRAME} bytes"):
        asyncio.run(read())
    ours.close()
    theirs.close()


def test_a_type_confused_request_is_answered_with_its_id():
    """A frame whose message has a field of the wrong type keeps its id, so it can be answered."""
    body = msgspec.msgpack.encode([41, {"type": "GetVariable", "key": 12}])
    with pytest.raises(FrameError, match=r"Expected `str`, got `int` - at `\$\[1\]\.key`") as error:
        decode_request(body)
    assert error.value.frame_id == 41
    good = encode_frame(protocol.ResponseFrame(41, OKResponse()))
    assert decode_response(good[4:]).id == 41


HARNESS = Path(__file__).parent / "fuzz" / "atheris_protocol.py"


def test_atheris_finds_nothing():
    """20,000 coverage-guided inputs through both decoders and a frame buffer raise nothing else."""
    pytest.importorskip("atheris", reason="atheris is not installed (pip install atheris)")
    done = subprocess.run(
        [sys.executable, str(HARNESS), "-runs=20000", "-max_len=4096", "-seed=6"],
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert "Done 20000 runs" in done.stderr
