"""``airlock tasks render``: print the template fields a try rendered, as stored (secrets masked).

The runner renders the fields before ``execute`` and the supervisor stores them, masked, in the
configured database (``AIRLOCK_DATABASE_URL``, or the SQLite file in ``$AIRLOCK_HOME``). Without
``--run-id`` the latest run of the DAG that rendered the task is shown; without ``--try``, the
latest try.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from airlock.cli.output import database, emit_json
from airlock.exceptions import ConfigError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from airlock.db.models import RenderedTaskInstanceFields

_RULE = "# " + "-" * 58


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``render`` to the ``tasks`` command (register ``tasks`` first)."""
    tasks = commands.choices["tasks"]
    sub = next(a for a in tasks._actions if isinstance(a, argparse._SubParsersAction))  # noqa: SLF001 -- argparse keeps its subcommands there
    render = sub.add_parser(
        "render",
        help="print the template fields a task instance rendered",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    )
    render.add_argument("dag_id")
    render.add_argument("task_id")
    render.add_argument("--run-id", help="the DAG run (default: the latest one)")
    render.add_argument("--map-index", type=int, default=-1, help="the mapped index, if mapped")
    render.add_argument("--try", type=int, dest="try_number", help="the try (default: latest)")
    render.add_argument("--json", action="store_true", help="print the fields as one JSON object")
    render.set_defaults(handler=print_rendered_fields)


def print_rendered_fields(args: argparse.Namespace) -> int:
    """Handle ``airlock tasks render``."""
    with database() as sessions, sessions() as session:
        row = find_rendered(
            session,
            args.dag_id,
            args.task_id,
            run_id=args.run_id,
            map_index=args.map_index,
            try_number=args.try_number,
        )
    if args.json:
        emit_json(row.rendered_fields)
        return 0
    sys.stdout.write(format_fields(row.rendered_fields))
    return 0


def find_rendered(
    session: Session,
    dag_id: str,
    task_id: str,
    *,
    run_id: str | None,
    map_index: int,
    try_number: int | None,
) -> RenderedTaskInstanceFields:
    """Return the stored rendered fields of a try.

    Raises:
        ConfigError: nothing was stored for it; says what was looked for.
    """
    from airlock.db.models import RenderedTaskInstanceFields as Rendered  # noqa: PLC0415

    query = select(Rendered).where(
        Rendered.dag_id == dag_id, Rendered.task_id == task_id, Rendered.map_index == map_index
    )
    if run_id is not None:
        query = query.where(Rendered.run_id == run_id)
    if try_number is not None:
        query = query.where(Rendered.try_number == try_number)
    row = session.scalars(query.order_by(Rendered.updated_at.desc()).limit(1)).first()
    if row is None:
        where = f" in run {run_id!r}" if run_id else ""
        raise ConfigError(
            f"no rendered template fields are stored for task {task_id!r} of DAG {dag_id!r}"
            f"{where}: the task has not run yet, or has no template fields"
        )
    return row


def format_fields(fields: dict[str, Any]) -> str:
    """Render the fields as Airflow's ``tasks render`` prints them: a header, then the value."""
    parts = []
    for name, value in fields.items():
        text = value if isinstance(value, str) else json.dumps(value, indent=2, default=str)
        parts.append(f"{_RULE}\n# property: {name}\n{_RULE}\n{text}\n")
    return "\n".join(parts)
