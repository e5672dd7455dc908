"""``airlock dags list|errors|trigger|pause|unpause``: the DAGs the scheduler stored."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from airlock.cli.arg_types import iso_datetime, json_object
from airlock.cli.output import add_json_flag, database, emit, emit_json

if TYPE_CHECKING:
    import argparse

    from sqlalchemy.orm import Session

EXIT_HAS_ERRORS = 1
_DAG_COLUMNS = ("dag_id", "schedule", "is_paused", "is_active", "next_dagrun", "fileloc")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the DAG administration subcommands to ``airlock dags``."""
    listing = sub.add_parser("list", help="list the DAGs and the files that failed to parse")
    add_json_flag(listing)
    listing.set_defaults(handler=list_dags)
    errors = sub.add_parser("errors", help="list the DAG files that failed to parse (exit 1)")
    add_json_flag(errors)
    errors.set_defaults(handler=list_errors)
    trigger = sub.add_parser("trigger", help="create a manual run; the scheduler runs it")
    trigger.add_argument("dag_id")
    trigger.add_argument("--conf", type=json_object, default=None, help="run conf (JSON)")
    trigger.add_argument("--run-id", help="default: manual__<logical date>")
    trigger.add_argument("--logical-date", type=iso_datetime, help="default: now (UTC)")
    add_json_flag(trigger)
    trigger.set_defaults(handler=trigger_dag)
    for name, paused in (("pause", True), ("unpause", False)):
        command = sub.add_parser(name, help=f"{name} a DAG's scheduling")
        command.add_argument("dag_id")
        add_json_flag(command)
        command.set_defaults(handler=set_paused, paused=paused)


def dag_rows(session: Session) -> list[dict[str, Any]]:
    """The stored DAGs, one dict per DAG."""
    from airlock.db.models import DagModel, DagRun  # noqa: PLC0415 -- keep the CLI fast

    counted = session.execute(select(DagRun.dag_id, func.count()).group_by(DagRun.dag_id))
    runs = {row[0]: row[1] for row in counted}
    return [
        {
            "dag_id": dag.dag_id,
            "schedule": dag.schedule,
            "is_paused": dag.is_paused,
            "is_active": dag.is_active,
            "next_dagrun": dag.next_dagrun_logical_date,
            "runs": runs.get(dag.dag_id, 0),
            "max_active_runs": dag.max_active_runs,
            "max_active_tasks": dag.max_active_tasks,
            "fileloc": dag.fileloc,
            "last_parsed_at": dag.last_parsed_at,
        }
        for dag in session.scalars(select(DagModel).order_by(DagModel.dag_id))
    ]


def error_rows(session: Session) -> list[dict[str, Any]]:
    """The parse errors, one dict per file."""
    from airlock.db.models import ParseImportError  # noqa: PLC0415

    query = select(ParseImportError).order_by(ParseImportError.filename)
    return [
        {"filename": e.filename, "line": e.line, "message": e.message, "timestamp": e.timestamp}
        for e in session.scalars(query)
    ]


def list_dags(args: argparse.Namespace) -> int:
    """Handle ``airlock dags list``."""
    with database() as sessions, sessions() as session:
        dags, errors = dag_rows(session), error_rows(session)
    if args.json:
        emit_json({"dags": dags, "import_errors": errors})
        return 0
    emit(dags, _DAG_COLUMNS, as_json=False)
    if errors:
        emit(errors, ("filename", "line", "message"), as_json=False)
    return 0


def list_errors(args: argparse.Namespace) -> int:
    """Handle ``airlock dags errors``: exit 1 when any file failed to parse."""
    with database() as sessions, sessions() as session:
        errors = error_rows(session)
    emit(errors, ("filename", "line", "message", "timestamp"), as_json=args.json)
    return EXIT_HAS_ERRORS if errors else 0


def trigger_dag(args: argparse.Namespace) -> int:
    """Handle ``airlock dags trigger``."""
    from airlock.scheduling import control  # noqa: PLC0415

    with database() as sessions, sessions.begin() as session:
        run = control.trigger_dag(
            session, args.dag_id, conf=args.conf, run_id=args.run_id, logical_date=args.logical_date
        )
        row = {
            "dag_id": run.dag_id,
            "run_id": run.run_id,
            "state": run.state,
            "logical_date": run.logical_date,
            "conf": run.conf,
        }
    if args.json:
        emit_json(row)
    else:
        emit([row], ("dag_id", "run_id", "state", "logical_date"), as_json=False)
    return 0


def set_paused(args: argparse.Namespace) -> int:
    """Handle ``airlock dags pause`` and ``airlock dags unpause``."""
    from airlock.scheduling import control  # noqa: PLC0415

    with database() as sessions, sessions.begin() as session:
        control.set_paused(session, args.dag_id, paused=args.paused)
    row = {"dag_id": args.dag_id, "is_paused": args.paused}
    if args.json:
        emit_json(row)
    else:
        print(f"DAG {args.dag_id} {'paused' if args.paused else 'unpaused'}")  # noqa: T201
    return 0
