"""Bodies of the worker routes (``/workloads/...``): claiming queued tries and handing them back.

A local worker (``airlock worker``) authenticates with a worker credential, not a task token.
It claims queued tries in the queues it serves and gets their ``ExecuteTask`` workloads, each
with a freshly minted workload token; when it stops, it hands back the tries it could not
finish. Shared by the server and the worker's client.
"""

from __future__ import annotations

import msgspec

from airlock.api.models import DbInt, Model
from airlock.execution.workload import ExecuteTask  # noqa: TC001 -- msgspec resolves it at runtime

MAX_CLAIM = 256
"""The most tries one claim may ask for."""

MAX_WAIT = 30.0
"""The most seconds one ``GET /workloads/wait`` may hold on."""


class WorkloadClaimRequest(Model, frozen=True):
    """Body of ``POST /workloads/claim``: who claims, for which queues, and how many at most.

    With ``start``, the claimed tries are also started (queued -> running) in the process
    ``pid`` of ``unixname`` on ``hostname`` (the worker's supervisor), in the same transaction:
    each workload then carries its run context and an execution token, and the supervisor
    makes no ``/run`` request. Both need ``pid`` and ``unixname``.
    """

    hostname: str
    queues: list[str] = msgspec.field(default_factory=lambda: ["default"])
    slots: int = 1
    start: bool = False
    pid: DbInt | None = None
    unixname: str | None = None


class WorkloadClaimResponse(Model, frozen=True):
    """Answer to a claim: the claimed tries' workloads (possibly none)."""

    workloads: list[ExecuteTask] = msgspec.field(default_factory=list)


class WorkloadReleaseRequest(Model, frozen=True):
    """Body of ``POST /workloads/release``: running tries the worker hands back."""

    hostname: str
    ti_ids: list[str]


class WorkloadReleaseResponse(Model, frozen=True):
    """Answer to a release: the tries that were handed back (and will run again)."""

    released: list[str] = msgspec.field(default_factory=list)


class WorkWaitResponse(Model, frozen=True):
    """Answer to ``GET /workloads/wait``: whether queued, unclaimed tries are waiting now."""

    ready: bool
