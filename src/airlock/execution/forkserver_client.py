"""The supervisor's side of the fork server: start it, ask it for runners, hear their exits.

The fork server is started lazily, on the first launch, as a fresh interpreter with a
sanitized environment (the same one runners get). Runners' channels are made here and passed
to it with ``SCM_RIGHTS``; the server answers with the pid and later with the exit status.
If the fork server dies, the supervisor starts another on the next launch; runners already
started by the dead one are killed by the kernel (``PR_SET_PDEATHSIG``) and reported as such.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import socket
import subprocess
import sys
from typing import TYPE_CHECKING, Final

import msgspec

from airlock.execution.forkserver import (
    CONTROL_FD_ENV,
    PRELOAD_TIMEOUT,
    Exited,
    FromForkServer,
    Ready,
    Shutdown,
    Spawn,
    Spawned,
    SpawnFailed,
    encode,
)
from airlock.execution.process import (
    LaunchOptions,
    RunnerChannels,
    RunnerProcess,
    runner_environment,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

_START_TIMEOUT: Final = 30.0
_MAX_PACKET: Final = 64 * 1024
_decoder = msgspec.msgpack.Decoder(FromForkServer)


class ForkServerError(RuntimeError):
    """The fork server could not start or could not fork a runner."""


class ForkServerLauncher:
    """Launches runners by asking a preloaded fork server to fork them.

    Args:
        env: the environment the fork server (and so every runner) gets, before sanitizing.
        preload_dag_files: import each DAG file in the fork server before forking, so runners
            skip parsing it (re-imported when the file changes).
        preload_timeout: seconds a DAG file may take to import in the fork server; past it the
            import is given up (the fork server goes on serving) and the runner imports it.
    """

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        preload_dag_files: bool = True,
        preload_timeout: float = PRELOAD_TIMEOUT,
    ) -> None:
        self._env = runner_environment(os.environ if env is None else env)
        self._preload = preload_dag_files
        self._preload_timeout = preload_timeout
        self._server: _ForkServerProcess | None = None
        self._lock = asyncio.Lock()

    async def launch(self, dag_file: str, options: LaunchOptions | None = None) -> RunnerProcess:
        """Fork a runner on fresh channels, as ``options.run_as`` when set."""
        server = await self._running_server()
        channels = RunnerChannels.open()
        request = Spawn(
            0,
            dag_file if self._preload else None,
            preload_timeout=self._preload_timeout,
            run_as=options.run_as if options else None,
        )
        try:
            spawned, exited = await server.spawn(channels.runner_fds(), request)
        except BaseException:
            channels.close_all()
            raise
        note = _startup_note(spawned)
        return RunnerProcess.adopt(spawned.pid, channels, exited, note)

    async def aclose(self) -> None:
        """Stop the fork server (it kills any runner still alive)."""
        if self._server is not None:
            await self._server.close()
            self._server = None

    async def _running_server(self) -> _ForkServerProcess:
        async with self._lock:
            if self._server is None or self._server.dead:
                if self._server is not None:
                    await self._server.close()
                self._server = await _ForkServerProcess.start(self._env)
            return self._server

    @property
    def server_pid(self) -> int | None:
        """The fork server's pid, once started."""
        return None if self._server is None else self._server.pid


def _startup_note(spawned: Spawned) -> str:
    if spawned.parse_seconds is None:
        return "forked; the runner imports the DAG file itself"
    if spawned.parse_cached:
        return "forked; DAG file already parsed in the fork server"
    return f"forked; DAG file parsed in the fork server in {spawned.parse_seconds * 1000:.1f} ms"


class _ForkServerProcess:
    """One running fork server and the requests in flight to it."""

    def __init__(
        self, popen: subprocess.Popen[bytes], control: socket.socket, ready: Ready
    ) -> None:
        self.popen = popen
        self.pid = ready.pid
        self.preload_seconds = ready.preload_seconds
        self._control = control
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[tuple[Spawned, asyncio.Future[int]]]] = {}
        self._exits: dict[int, asyncio.Future[int]] = {}
        self._reader = asyncio.get_running_loop().create_task(self._read_forever())
        self.dead = False

    @classmethod
    async def start(cls, env: Mapping[str, str]) -> _ForkServerProcess:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        with theirs:
            popen = subprocess.Popen(  # noqa: ASYNC220 -- a fork+exec, no waiting
                [sys.executable, "-m", "airlock.execution.forkserver"],
                pass_fds=(theirs.fileno(),),
                env={**env, CONTROL_FD_ENV: str(theirs.fileno())},
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        ours.setblocking(False)  # noqa: FBT003 -- socket API
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(_START_TIMEOUT):
                ready = _decoder.decode(await loop.sock_recv(ours, _MAX_PACKET))
        except (TimeoutError, msgspec.MsgspecError) as exc:
            popen.kill()
            popen.wait()
            ours.close()
            raise ForkServerError(f"the fork server did not start: {exc!r}") from exc
        if not isinstance(ready, Ready):
            raise ForkServerError(f"the fork server said {ready!r} instead of Ready")
        return cls(popen, ours, ready)

    async def spawn(self, fds: list[int], request: Spawn) -> tuple[Spawned, asyncio.Future[int]]:
        """Ask for a runner on ``fds`` as ``request`` says (its id is replaced).

        Returns the runner's pid and a future of its exit status.
        """
        if self.dead:
            raise ForkServerError("the fork server is not running")
        request_id = next(self._ids)
        answer: asyncio.Future[tuple[Spawned, asyncio.Future[int]]]
        answer = asyncio.get_running_loop().create_future()
        self._pending[request_id] = answer
        packet = encode(msgspec.structs.replace(request, request_id=request_id))
        await _send_with_fds(asyncio.get_running_loop(), self._control, packet, fds)
        return await answer

    async def _read_forever(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while data := await loop.sock_recv(self._control, _MAX_PACKET):
                self._dispatch(_decoder.decode(data))
        except (OSError, msgspec.MsgspecError):
            pass
        finally:
            self._fail_everything()

    def _dispatch(self, message: FromForkServer) -> None:
        # The server sends a runner's Spawned before its Exited, on one ordered socket.
        match message:
            case Spawned(request_id=request_id, pid=pid):
                exited = asyncio.get_running_loop().create_future()
                self._exits[pid] = exited
                self._pending.pop(request_id).set_result((message, exited))
            case SpawnFailed(request_id=request_id, error=error):
                failure = ForkServerError(f"the fork server could not fork a runner: {error}")
                self._pending.pop(request_id).set_exception(failure)
            case Exited(pid=pid, status=status):
                self._exits.pop(pid).set_result(status)
            case Ready():
                pass

    def _fail_everything(self) -> None:
        """The fork server is gone: its runners were killed with it (PR_SET_PDEATHSIG)."""
        self.dead = True
        for answer in self._pending.values():
            if not answer.done():
                answer.set_exception(ForkServerError("the fork server exited"))
        for exited in self._exits.values():
            if not exited.done():
                exited.set_result(-9)  # SIGKILL, by PR_SET_PDEATHSIG
        self._pending.clear()
        self._exits.clear()

    async def close(self) -> None:
        with contextlib.suppress(OSError):
            self._control.send(encode(Shutdown()))
        self._control.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        await asyncio.to_thread(_wait_or_kill, self.popen)


def _wait_or_kill(popen: subprocess.Popen[bytes]) -> None:
    try:
        popen.wait(timeout=5)
    except subprocess.TimeoutExpired:
        popen.kill()
        popen.wait()


async def _send_with_fds(
    loop: asyncio.AbstractEventLoop, sock: socket.socket, data: bytes, fds: list[int]
) -> None:
    """Send one packet with ``fds`` attached, waiting (without blocking) if the socket is full."""
    while True:
        try:
            socket.send_fds(sock, [data], fds)
        except BlockingIOError:
            writable: asyncio.Future[None] = loop.create_future()
            loop.add_writer(sock, writable.set_result, None)
            try:
                await writable
            finally:
                loop.remove_writer(sock)
        else:
            return
