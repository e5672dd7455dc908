"""Frames and messages: every message round-trips, every malformed frame is a clear error."""

from __future__ import annotations

import struct
from datetime import UTC, datetime

import msgspec
import pytest

from airlock.api.models import DagRunInfo, TaskInstanceKey, TIRunContext
from airlock.execution import protocol as p
from airlock.execution.frames import (
    FrameError,
    body_length,
    decode_request,
    decode_response,
    encode_frame,
)

TI = TaskInstanceKey(id="ti-1", dag_id="d", run_id="r", task_id="t")
CONTEXT = TIRunContext(
    dag_run=DagRunInfo(dag_id="d", run_id="r", logical_date=datetime(2026, 1, 1, tzinfo=UTC)),
    try_number=1,
    max_tries=2,
)

REQUESTS: list[p.ToSupervisor] = [
    p.GetXCom(task_id="up", key="k", map_index=3, dag_id="other", run_id="r2"),
    p.SetXCom(key="return_value", value=b'{"a":1}'),
    p.GetVariable(key="v"),
    p.PutVariable(key="v", value="x", description="d"),
    p.DeleteVariable(key="v"),
    p.GetConnection(conn_id="c"),
    p.SucceedTask(),
    p.TaskState(state="failed", reason="boom"),
    p.TaskState(state="skipped"),
    p.RetryTask(reason="again"),
]
RESPONSES: list[p.ToRunner] = [
    p.StartupDetails(ti=TI, dag_file="/dags/x.py", run_context=CONTEXT),
    p.XComResult(key="k", value=b"[1,2]"),
    p.XComResult(key="k"),
    p.VariableResult(key="v", value="x"),
    p.ConnectionResult(conn_id="c", conn_type="postgres", host="h", port=5432, password="pw"),
    p.OKResponse(),
    p.ErrorResponse(error=p.ErrorKind.VARIABLE_NOT_FOUND, detail="no", status_code=404),
]


def _body(frame: bytearray) -> bytes:
    assert body_length(frame[:4]) == len(frame) - 4
    return bytes(frame[4:])


@pytest.mark.parametrize("message", REQUESTS, ids=lambda m: type(m).__name__)
def test_every_request_round_trips(message: p.ToSupervisor):
    """Each runner->supervisor message arrives equal to what was sent, with its id."""
    frame = encode_frame(p.RequestFrame(7, message))
    assert decode_request(_body(frame)) == p.RequestFrame(7, message)


@pytest.mark.parametrize("message", RESPONSES, ids=lambda m: type(m).__name__)
def test_every_response_round_trips(message: p.ToRunner):
    """Each supervisor->runner message arrives equal to what was sent, with its id."""
    frame = encode_frame(p.ResponseFrame(9, message))
    assert decode_response(_body(frame)) == p.ResponseFrame(9, message)


def test_header_is_four_byte_big_endian_length():
    """The frame header is the body length as a 4-byte big-endian unsigned integer."""
    frame = encode_frame(p.RequestFrame(1, p.GetVariable(key="k")))
    assert struct.unpack(">I", frame[:4])[0] == len(frame) - 4


def test_oversize_length_is_refused_before_reading_the_body():
    """A header announcing more than the limit is refused without allocating the body."""
    with pytest.raises(FrameError, match="frame of 4294967295 bytes: the limit is 1024"):
        body_length(b"\xff\xff\xff\xff", max_bytes=1024)


def test_oversize_message_is_refused_on_send():
    """A message too large for a frame is refused by the sender with both sizes named."""
    big = p.SetXCom(key="k", value=b"x" * 2048)
    with pytest.raises(FrameError, match=r"refusing to send a frame of 20\d\d bytes"):
        encode_frame(p.RequestFrame(1, big), max_bytes=1024)


def test_truncated_body_is_a_clear_error():
    """A body cut short raises FrameError, not a hang or a crash."""
    body = _body(encode_frame(p.RequestFrame(1, p.GetVariable(key="key"))))
    with pytest.raises(FrameError, match=r"malformed request: .*truncated"):
        decode_request(body[:-2])


def test_trailing_bytes_are_a_clear_error():
    """Bytes after the message inside a frame raise FrameError."""
    body = _body(encode_frame(p.RequestFrame(1, p.GetVariable(key="key"))))
    with pytest.raises(FrameError, match="trailing characters"):
        decode_request(body + b"\x00")


def test_unknown_message_type_keeps_the_id():
    """An unknown message tag is refused, and the error still carries the frame's id."""
    body = msgspec.msgpack.encode([42, {"type": "LaunchMissiles", "target": "x"}])
    with pytest.raises(FrameError, match="LaunchMissiles") as caught:
        decode_request(body)
    assert caught.value.frame_id == 42


def test_wrong_field_type_is_a_clear_error():
    """A field of the wrong type is refused with the path of the field in the message."""
    body = msgspec.msgpack.encode([3, {"type": "GetVariable", "key": 5}])
    with pytest.raises(FrameError, match=r"Expected `str`, got `int` - at `\$\[1\].key`"):
        decode_request(body)


def test_garbage_has_no_id():
    """Bytes that are not a frame at all raise FrameError without an id."""
    with pytest.raises(FrameError) as caught:
        decode_request(b"\xc1\xc1\xc1")
    assert caught.value.frame_id is None


def test_a_response_cannot_be_decoded_as_a_request():
    """The two directions are separate unions: a response is not a valid request."""
    body = _body(encode_frame(p.ResponseFrame(1, p.OKResponse())))
    with pytest.raises(FrameError, match="OKResponse"):
        decode_request(body)
