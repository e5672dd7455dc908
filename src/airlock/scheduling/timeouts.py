"""Tries that stopped making progress: running without heartbeats, or queued for too long.

* A **running** try whose last heartbeat is older than ``heartbeat_timeout`` lost its supervisor
  (its worker died, was killed, or lost the network). It ends ``up_for_retry`` while tries remain,
  else ``failed``, with the reason; a retried try is archived and its row gets a new id, so the
  lost supervisor, should it come back, is refused and stops its runner. The retry therefore
  never runs at the same time as the lost try under the same identity.
* A **queued** try that has not started after ``queued_timeout`` (its workload was lost, or its
  worker died between claiming and starting it) goes back to ``scheduled`` with a new id and the
  same try number: the next scheduling pass queues it again with a fresh workload token.

Both updates are conditional on what was read (state and heartbeat or queued time), and the
rows are read ``FOR UPDATE SKIP LOCKED``, so a try that starts or heartbeats at that moment, or
another scheduler handling the same try, wins without a conflict.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from airlock.db.models import TaskInstance
from airlock.scheduling.tries import archive, conditional_update, renew
from airlock.states import TaskInstanceState as TIState

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy.orm import Session


@dataclass(frozen=True)
class TimedOut:
    """A try the control plane took back, and what became of it."""

    ti_id: str
    dag_id: str
    run_id: str
    task_id: str
    state: str
    reason: str


def fail_lost_tries(session: Session, now: datetime, timeout: float) -> list[TimedOut]:
    """End the running tries whose heartbeat is older than ``timeout`` seconds."""
    stale = session.scalars(
        select(TaskInstance)
        .where(
            TaskInstance.state == TIState.RUNNING,
            TaskInstance.last_heartbeat_at < now - timedelta(seconds=timeout),
        )
        .with_for_update(skip_locked=True)
    ).all()
    return [done for ti in stale if (done := _end_lost_try(session, ti, now, timeout))]


def _end_lost_try(
    session: Session, ti: TaskInstance, now: datetime, timeout: float
) -> TimedOut | None:
    retry = ti.try_number <= ti.max_tries
    target = TIState.UP_FOR_RETRY if retry else TIState.FAILED
    seen = ti.last_heartbeat_at
    reason = (
        f"no heartbeat for more than {timeout:g}s (last at "
        f"{seen.isoformat() if seen else 'never'}, pid {ti.pid} on {ti.hostname}): "
        "its worker probably died or lost the network"
    )
    expected = {"state": TIState.RUNNING, "last_heartbeat_at": seen}
    values = {"state": target, "end_date": now, "failure_reason": reason, "updated_at": now}
    done = TimedOut(ti.id, ti.dag_id, ti.run_id, ti.task_id, target, reason)
    session.expunge(ti)  # the row changes under the ORM: forget the stale object
    if not conditional_update(session, done.ti_id, expected, **values):
        return None
    if retry:
        archive(session, done.ti_id)
        renew(session, done.ti_id)
    return done


def requeue_stuck_tries(session: Session, now: datetime, timeout: float) -> list[TimedOut]:
    """Send the tries queued for more than ``timeout`` seconds back to ``scheduled``."""
    stuck = session.scalars(
        select(TaskInstance)
        .where(
            TaskInstance.state == TIState.QUEUED,
            TaskInstance.queued_at < now - timedelta(seconds=timeout),
        )
        .with_for_update(skip_locked=True)
    ).all()
    return [done for ti in stuck if (done := _requeue(session, ti, now, timeout))]


def _requeue(session: Session, ti: TaskInstance, now: datetime, timeout: float) -> TimedOut | None:
    claimed = f", claimed by {ti.claimed_by}" if ti.claimed_by else ""
    reason = f"queued for more than {timeout:g}s without starting{claimed}; queued again"
    expected = {"state": TIState.QUEUED, "queued_at": ti.queued_at}
    values = {
        "state": TIState.SCHEDULED,
        "try_number": ti.try_number - 1,
        "queued_at": None,
        "claimed_by": None,
        "claimed_at": None,
        "updated_at": now,
    }
    done = TimedOut(ti.id, ti.dag_id, ti.run_id, ti.task_id, TIState.SCHEDULED, reason)
    session.expunge(ti)  # the row changes under the ORM: forget the stale object
    if not conditional_update(session, done.ti_id, expected, **values):
        return None
    renew(session, done.ti_id)
    return done
