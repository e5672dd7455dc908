"""Runner <-> supervisor protocol: round trips per second and a 10 MB XCom, beside the floor.

The runner side is airlock's real ``SupervisorChannel`` (blocking, in a child process); the
supervisor side is the real ``RunnerChannel`` on an asyncio loop, decoding each request and
encoding a response as the supervisor does. The floor is the same two processes and the same
socket calls (``sendall``/``recv_into`` in the child, ``sock_recv_into``/``sock_sendall`` on the
loop) moving fixed bytes with no encoding at all.

Usage: .venv/bin/python benchmarks/bench_protocol.py [--round-trips N] [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import struct
import time

from airlock.execution import event_loop
from airlock.execution import protocol as p
from airlock.execution.comms import SupervisorChannel
from airlock.execution.frames import HEADER_SIZE, body_length, decode_request
from airlock.execution.runner_channel import RunnerChannel

XCOM_BYTES = 10 * 1024 * 1024
LIMIT = 64 * 1024 * 1024


def _child(sock: socket.socket, work: str, count: int, result_fd: int) -> None:
    started = time.perf_counter()
    if work == "protocol":
        channel = SupervisorChannel(sock, max_frame_bytes=LIMIT)
        for _ in range(count):
            channel.request(p.GetVariable(key="k"))
    elif work == "xcom":
        channel = SupervisorChannel(sock, max_frame_bytes=LIMIT)
        channel.request(p.SetXCom(key="big", value=b"x" * XCOM_BYTES))
    else:
        _raw_echo_client(sock, count)
    os.write(result_fd, struct.pack("d", time.perf_counter() - started))


def _raw_echo_client(sock: socket.socket, count: int) -> None:
    message = struct.pack(">I", 20) + b"0123456789abcdefghij"
    reply = bytearray(HEADER_SIZE + 20)
    view = memoryview(reply)
    for _ in range(count):
        sock.sendall(message)
        received = 0
        while received < len(reply):
            received += sock.recv_into(view[received:])


async def _serve(sock: socket.socket, work: str) -> None:
    channel = RunnerChannel(sock, LIMIT)
    if work == "raw":
        await _raw_echo_server(sock)
        return
    answer = p.VariableResult(key="k", value="v") if work == "protocol" else p.OKResponse()
    while (body := await channel.receive()) is not None:
        frame = decode_request(body)
        await channel.send(p.ResponseFrame(frame.id, answer))


async def _raw_echo_server(sock: socket.socket) -> None:
    loop = asyncio.get_running_loop()
    header = bytearray(HEADER_SIZE)
    while True:
        if await _read_into(loop, sock, memoryview(header)) == 0:
            return
        body = bytearray(body_length(header))
        await _read_into(loop, sock, memoryview(body))
        await loop.sock_sendall(sock, bytes(header) + bytes(body))


async def _read_into(loop: asyncio.AbstractEventLoop, sock: socket.socket, view: memoryview) -> int:
    received = 0
    while received < len(view):
        count = await loop.sock_recv_into(sock, view[received:])
        if count == 0:
            return received
        received += count
    return received


def measure(work: str, count: int) -> float:
    """Seconds the child took for ``count`` round trips (or one XCom) of ``work``."""
    parent, child = socket.socketpair()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        parent.close()
        _child(child, work, count, write_fd)
        os._exit(0)
    child.close()
    parent.setblocking(False)  # noqa: FBT003 -- socket API
    event_loop.run(_serve(parent, work))  # the loop the supervisor runs on
    os.waitpid(pid, 0)
    (seconds,) = struct.unpack("d", os.read(read_fd, 8))
    for fd in (read_fd, write_fd):
        os.close(fd)
    parent.close()
    return seconds


def main() -> None:
    """Print round trips per second (protocol and floor) and the 10 MB XCom time."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--round-trips", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    n = args.round_trips
    protocol = statistics.median(n / measure("protocol", n) for _ in range(args.runs))
    floor = statistics.median(n / measure("raw", n) for _ in range(args.runs))
    xcom = statistics.median(measure("xcom", 1) for _ in range(args.runs))
    print(f"protocol round trips/s (GetVariable -> VariableResult): {protocol:,.0f}")
    print(f"floor round trips/s (same socket calls, no encoding):   {floor:,.0f}")
    print(f"protocol cost vs floor: {floor / protocol:.2f}x")
    print(f"10 MB XCom runner -> supervisor -> OK: {xcom * 1000:.1f} ms")


if __name__ == "__main__":
    main()
