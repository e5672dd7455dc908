"""Handing queued tries to local workers, and taking running tries back from them.

**Claim**: the oldest queued, unclaimed tries of the requested queues (highest
``priority_weight`` first) are read ``FOR UPDATE SKIP LOCKED`` (two workers claiming at once get
different tries), marked claimed by the worker (a conditional update: still queued, still
unclaimed), and returned as workloads with freshly minted workload tokens. A claimed try that
never starts is requeued by the scheduler's queued timeout.

With ``start`` (what ``airlock worker`` asks), each claimed try is also started for the
claiming supervisor in the same transaction, exactly as its ``/run`` would: the workload then
carries the run context and an execution token, which saves a request per try.

**Release**: a stopping worker hands back the running tries it could not finish. Each one that
is still running in a process of that worker's host is archived and goes back to
``scheduled`` under a new id: the next scheduling pass queues it again (its next try), and the
old supervisor's next heartbeat is refused, which makes it stop its runner.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import msgspec
from sqlalchemy import select

from airlock.api.models import TIRunRequest
from airlock.db.models import TaskInstance
from airlock.execution.workload import ExecuteTask, workload_for
from airlock.scheduling.dag_store import load_dag
from airlock.scheduling.tries import archive, conditional_update, renew
from airlock.server import transitions
from airlock.states import TaskInstanceState as TIState

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from airlock.api.workloads import WorkloadClaimRequest, WorkloadReleaseRequest
    from airlock.server.auth import TokenSigner

log = logging.getLogger("airlock.server.claims")


def claim(
    session: Session, worker: str, request: WorkloadClaimRequest, signer: TokenSigner
) -> list[ExecuteTask]:
    """Claim up to ``request.slots`` queued tries for ``worker``; return their workloads."""
    now = datetime.now(UTC)
    candidates = session.scalars(
        select(TaskInstance)
        .where(
            TaskInstance.state == TIState.QUEUED,
            TaskInstance.claimed_at.is_(None),
            TaskInstance.queue.in_(request.queues),
        )
        .order_by(TaskInstance.priority_weight.desc(), TaskInstance.queued_at)
        .limit(request.slots)
        .with_for_update(skip_locked=True)
    ).all()
    process = starting_process(request)
    workloads = []
    for ti in candidates:
        workload = _workload(session, ti, signer)
        expected = {"state": TIState.QUEUED, "claimed_at": None}
        claimed = {"claimed_by": f"{worker}@{request.hostname}", "claimed_at": now}
        if workload is None or not conditional_update(session, ti.id, expected, **claimed):
            continue
        if process is not None:
            workload = _started(session, workload, process, signer)
        workloads.append(workload)
    return workloads


def starting_process(request: WorkloadClaimRequest) -> TIRunRequest | None:
    """The process a claim starts its tries in, or ``None`` for a claim that only claims.

    Raises:
        ValueError: the claim asks to start its tries without naming the process.
    """
    if not request.start:
        return None
    if request.pid is None or not request.unixname:
        raise ValueError("a claim that starts its tries names the process: pid and unixname")
    return TIRunRequest(hostname=request.hostname, pid=request.pid, unixname=request.unixname)


def _started(
    session: Session, workload: ExecuteTask, process: TIRunRequest, signer: TokenSigner
) -> ExecuteTask:
    """Start a claimed try for the claiming process: its run context and an execution token."""
    context = transitions.start(session, workload.ti.id, process)
    token = signer.mint(workload.ti.id, scope="execution")
    return msgspec.structs.replace(workload, token=token, run_context=context)


def has_work(sessions: sessionmaker[Session], queues: list[str]) -> bool:
    """Return whether queued, unclaimed tries of ``queues`` are waiting."""
    with sessions() as session:
        found = session.scalar(
            select(TaskInstance.id)
            .where(
                TaskInstance.state == TIState.QUEUED,
                TaskInstance.claimed_at.is_(None),
                TaskInstance.queue.in_(queues),
            )
            .limit(1)
        )
    return found is not None


def release(session: Session, worker: str, request: WorkloadReleaseRequest) -> list[str]:
    """Hand back the listed tries still running on the worker's host; return their old ids."""
    now = datetime.now(UTC)
    released = []
    reason = f"handed back by worker {worker} on {request.hostname}, which was stopping"
    for ti_id in request.ti_ids:
        expected = {"state": TIState.RUNNING, "hostname": request.hostname}
        if not conditional_update(session, ti_id, expected, end_date=now, failure_reason=reason):
            continue
        archive(session, ti_id, state=TIState.UP_FOR_RETRY)
        renew(
            session,
            ti_id,
            state=TIState.SCHEDULED,
            start_date=None,
            end_date=None,
            hostname=None,
            pid=None,
            last_heartbeat_at=None,
            claimed_by=None,
            claimed_at=None,
            failure_reason=None,
            updated_at=now,
        )
        released.append(ti_id)
    return released


def _workload(session: Session, ti: TaskInstance, signer: TokenSigner) -> ExecuteTask | None:
    dag = load_dag(session, ti.dag_id)
    if dag is None:
        log.warning("queued task instance %s has no stored DAG %r", ti.id, ti.dag_id)
        return None
    return workload_for(ti.key, dag, signer.mint(ti.id, scope="workload"))
