"""``airlock tasks list|states|clear``: a DAG's tasks, a run's task instances, and reruns."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from airlock.cli.output import add_json_flag, database, emit, emit_json

if TYPE_CHECKING:
    import argparse

    from sqlalchemy.orm import Session

_TASK_COLUMNS = ("task_id", "operator", "upstream", "trigger_rule", "retries", "pool", "queue")
_STATE_COLUMNS = ("task_id", "map_index", "state", "try_number", "start_date", "end_date")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the task administration subcommands to ``airlock tasks``."""
    listing = sub.add_parser("list", help="list a DAG's tasks (upstream first)")
    listing.add_argument("dag_id")
    add_json_flag(listing)
    listing.set_defaults(handler=list_tasks)
    states = sub.add_parser("states", help="the task instances of a run and their states")
    states.add_argument("dag_id")
    states.add_argument("run_id")
    add_json_flag(states)
    states.set_defaults(handler=list_states)
    clear = sub.add_parser("clear", help="run task instances of a run again (all, or those given)")
    clear.add_argument("dag_id")
    clear.add_argument("run_id")
    clear.add_argument(
        "--task-id", action="append", dest="task_ids", help="a task to clear (repeatable)"
    )
    clear.add_argument("--downstream", action="store_true", help="also clear what follows")
    add_json_flag(clear)
    clear.set_defaults(handler=clear_tasks)


def task_rows(session: Session, dag_id: str) -> list[dict[str, Any]]:
    """The tasks of the stored DAG ``dag_id``, in topological order."""
    from airlock.scheduling.control import known_dag  # noqa: PLC0415 -- keep the CLI fast

    return [
        {
            "task_id": task.task_id,
            "operator": task.operator,
            "upstream": ",".join(task.upstream_task_ids),
            "trigger_rule": task.trigger_rule,
            "retries": task.retries,
            "pool": task.pool,
            "queue": task.queue,
            "priority_weight": task.priority_weight,
        }
        for task in known_dag(session, dag_id).tasks
    ]


def state_rows(session: Session, dag_id: str, run_id: str) -> list[dict[str, Any]]:
    """The task instances of one run."""
    from airlock.db.models import TaskInstance  # noqa: PLC0415
    from airlock.scheduling.control import NotFoundError  # noqa: PLC0415

    query = (
        select(TaskInstance)
        .where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
        .order_by(TaskInstance.task_id, TaskInstance.map_index)
    )
    rows = [
        {
            "task_id": ti.task_id,
            "map_index": ti.map_index,
            "state": ti.state,
            "try_number": ti.try_number,
            "start_date": ti.start_date,
            "end_date": ti.end_date,
            "hostname": ti.hostname,
            "pool": ti.pool,
            "queue": ti.queue,
            "failure_reason": ti.failure_reason,
        }
        for ti in session.scalars(query)
    ]
    if not rows:
        raise NotFoundError(f"DAG {dag_id!r} has no run {run_id!r}")
    return rows


def list_tasks(args: argparse.Namespace) -> int:
    """Handle ``airlock tasks list``."""
    with database() as sessions, sessions() as session:
        rows = task_rows(session, args.dag_id)
    emit(rows, _TASK_COLUMNS, as_json=args.json)
    return 0


def list_states(args: argparse.Namespace) -> int:
    """Handle ``airlock tasks states``."""
    with database() as sessions, sessions() as session:
        rows = state_rows(session, args.dag_id, args.run_id)
    emit(rows, _STATE_COLUMNS, as_json=args.json)
    return 0


def clear_tasks(args: argparse.Namespace) -> int:
    """Handle ``airlock tasks clear``."""
    from airlock.scheduling.control import clear_task_instances  # noqa: PLC0415

    with database() as sessions, sessions.begin() as session:
        cleared = clear_task_instances(
            session, args.dag_id, args.run_id, task_ids=args.task_ids, downstream=args.downstream
        )
    rows = [
        {"task_id": c.task_id, "map_index": c.map_index, "previous_state": c.previous_state}
        for c in cleared
    ]
    if args.json:
        emit_json({"dag_id": args.dag_id, "run_id": args.run_id, "cleared": rows})
    else:
        emit(rows, ("task_id", "map_index", "previous_state"), as_json=False)
    return 0
