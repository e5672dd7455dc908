"""The runner's channel: one response per request, matched by id, never a hang."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from airlock.exceptions import ProtocolError, TaskRuntimeError
from airlock.execution import protocol as p
from airlock.execution.comms import SupervisorChannel
from airlock.execution.frames import HEADER_SIZE, body_length, decode_request, encode_frame

Responder = Callable[[p.RequestFrame], bytes | None]


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


@pytest.fixture
def supervisor_side() -> Iterator[Callable[[Responder], SupervisorChannel]]:
    """Start a fake supervisor answering frames with a function; returns the runner's channel."""
    threads: list[threading.Thread] = []
    sockets: list[socket.socket] = []

    def start(respond: Responder) -> SupervisorChannel:
        runner_end, supervisor_end = socket.socketpair()
        sockets.extend([runner_end, supervisor_end])

        def serve() -> None:
            try:
                while True:
                    size = body_length(_recv_exactly(supervisor_end, HEADER_SIZE))
                    reply = respond(decode_request(_recv_exactly(supervisor_end, size)))
                    if reply is None:
                        supervisor_end.close()
                        return
                    supervisor_end.sendall(reply)
            except (EOFError, OSError):
                return

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        threads.append(thread)
        return SupervisorChannel(runner_end)

    yield start
    for sock in sockets:
        sock.close()
    for thread in threads:
        thread.join(timeout=5)


def test_request_returns_the_matching_response(supervisor_side):
    """A request gets the response the supervisor sent for its id."""
    channel = supervisor_side(
        lambda f: encode_frame(p.ResponseFrame(f.id, p.VariableResult(key="k", value="v")))
    )
    assert channel.call(p.GetVariable(key="k"), p.VariableResult).value == "v"
    assert channel.call(p.GetVariable(key="k"), p.VariableResult).value == "v"


def test_mismatched_response_id_is_a_protocol_error(supervisor_side):
    """A response whose id is not the request's is refused, not silently accepted."""
    channel = supervisor_side(lambda f: encode_frame(p.ResponseFrame(f.id + 1, p.OKResponse())))
    with pytest.raises(ProtocolError, match="does not match request id 1"):
        channel.request(p.DeleteVariable(key="k"))


def test_supervisor_closing_mid_request_raises_instead_of_hanging(supervisor_side):
    """If the supervisor goes away, the pending request fails at once with a clear error."""
    channel = supervisor_side(lambda _f: None)
    with pytest.raises(ProtocolError, match="closed the connection after 0 of 4 bytes"):
        channel.request(p.GetVariable(key="k"))


def test_truncated_response_raises_instead_of_hanging():
    """A frame cut short in its body, then a closed socket, fails with the byte counts."""
    runner_end, supervisor_end = socket.socketpair()
    with runner_end:
        frame = encode_frame(p.ResponseFrame(0, p.VariableResult(key="k", value="v" * 50)))
        supervisor_end.sendall(frame[:20])
        supervisor_end.close()
        with pytest.raises(ProtocolError, match="closed the connection after 16 of"):
            SupervisorChannel(runner_end).read_startup()


def test_error_response_raises_task_runtime_error(supervisor_side):
    """A refused request raises TaskRuntimeError carrying the supervisor's explanation."""
    error = p.ErrorResponse(error=p.ErrorKind.PERMISSION_DENIED, detail="not yours")
    channel = supervisor_side(lambda f: encode_frame(p.ResponseFrame(f.id, error)))
    with pytest.raises(TaskRuntimeError, match="GetConnection was refused: not yours"):
        channel.call(p.GetConnection(conn_id="c"), p.ConnectionResult)


def test_optional_call_maps_not_found_to_none(supervisor_side):
    """A not-found answer of the expected kind becomes None for the caller."""
    error = p.ErrorResponse(error=p.ErrorKind.VARIABLE_NOT_FOUND, detail="no")
    channel = supervisor_side(lambda f: encode_frame(p.ResponseFrame(f.id, error)))
    found = channel.call_optional(
        p.GetVariable(key="k"), p.VariableResult, p.ErrorKind.VARIABLE_NOT_FOUND
    )
    assert found is None


def test_startup_must_come_first_with_id_zero():
    """The first frame must be StartupDetails with id 0; anything else is refused."""
    runner_end, supervisor_end = socket.socketpair()
    with runner_end, supervisor_end:
        supervisor_end.sendall(encode_frame(p.ResponseFrame(0, p.OKResponse())))
        with pytest.raises(ProtocolError, match="expected StartupDetails with id 0 first"):
            SupervisorChannel(runner_end).read_startup()


def test_oversize_announced_response_is_refused():
    """A response header over the runner's frame limit is refused before reading the body."""
    runner_end, supervisor_end = socket.socketpair()
    with runner_end, supervisor_end:
        supervisor_end.sendall(b"\x7f\xff\xff\xff")
        with pytest.raises(ProtocolError, match="the limit is 1024 bytes"):
            SupervisorChannel(runner_end, max_frame_bytes=1024).read_startup()
