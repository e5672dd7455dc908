"""``airlock runs list DAG_ID``: the runs of a DAG, newest first."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from airlock.cli.output import add_json_flag, database, emit

if TYPE_CHECKING:
    import argparse

    from sqlalchemy.orm import Session

_COLUMNS = ("run_id", "state", "run_type", "logical_date", "start_date", "end_date")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``runs`` and its subcommands."""
    runs = commands.add_parser("runs", help="inspect DAG runs")
    sub = runs.add_subparsers(dest="runs_command", required=True, metavar="COMMAND")
    listing = sub.add_parser("list", help="list the runs of a DAG, newest first")
    listing.add_argument("dag_id")
    listing.add_argument("--state", help="only runs in this state")
    listing.add_argument("--limit", type=int, default=100, help="at most this many (100)")
    add_json_flag(listing)
    listing.set_defaults(handler=list_runs)


def run_rows(
    session: Session, dag_id: str, *, state: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """The runs of ``dag_id``, newest logical date first."""
    from airlock.db.models import DagRun  # noqa: PLC0415 -- keep the CLI fast

    query = select(DagRun).where(DagRun.dag_id == dag_id)
    if state:
        query = query.where(DagRun.state == state)
    query = query.order_by(DagRun.logical_date.desc(), DagRun.id.desc()).limit(limit)
    return [
        {
            "dag_id": run.dag_id,
            "run_id": run.run_id,
            "state": run.state,
            "run_type": run.run_type,
            "logical_date": run.logical_date,
            "data_interval_start": run.data_interval_start,
            "data_interval_end": run.data_interval_end,
            "start_date": run.start_date,
            "end_date": run.end_date,
            "conf": run.conf,
        }
        for run in session.scalars(query)
    ]


def list_runs(args: argparse.Namespace) -> int:
    """Handle ``airlock runs list``."""
    with database() as sessions, sessions() as session:
        rows = run_rows(session, args.dag_id, state=args.state, limit=args.limit)
    emit(rows, _COLUMNS, as_json=args.json)
    return 0
