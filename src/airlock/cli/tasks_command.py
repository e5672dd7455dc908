"""``airlock tasks ...``: read the logs of task instance tries."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import msgspec

from airlock.cli import task_admin
from airlock.exceptions import ConfigError

if TYPE_CHECKING:
    import argparse
    from pathlib import Path

_decoder = msgspec.json.Decoder(dict[str, Any])


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``tasks`` and its subcommands."""
    tasks = commands.add_parser("tasks", help="work with task instances")
    sub = tasks.add_subparsers(dest="tasks_command", required=True, metavar="COMMAND")
    logs = sub.add_parser(
        "logs",
        help="print the log of a task instance try",
        description="Print a try's log: the task's prints and log calls, and the supervisor's "
        "own lines. Without --run-id, the most recent run of the DAG; without --try, the latest.",
    )
    logs.add_argument("dag_id")
    logs.add_argument("task_id")
    logs.add_argument("--run-id", help="the DAG run (default: the most recent one with logs)")
    logs.add_argument("--try", type=int, dest="try_number", help="the try number (default: last)")
    logs.add_argument("--map-index", type=int, default=-1, help="the mapped index, if mapped")
    logs.add_argument("--raw", action="store_true", help="print the JSON lines as stored")
    logs.add_argument("--json", action="store_true", help="print one JSON array of the lines")
    logs.set_defaults(handler=print_task_logs)
    task_admin.register(sub)


def print_task_logs(args: argparse.Namespace) -> int:
    """Handle ``airlock tasks logs``."""
    from airlock.settings import Settings  # noqa: PLC0415 -- keep the CLI's start fast

    path = find_log(
        Settings.load().logs_folder,
        args.dag_id,
        args.task_id,
        run_id=args.run_id,
        try_number=args.try_number,
        map_index=args.map_index,
    )
    if getattr(args, "json", False):
        return _print_json_log(path)
    with path.open("rb") as lines:
        for raw in lines:
            sys.stdout.write(raw.decode(errors="replace") if args.raw else format_line(raw))
    return 0


def _print_json_log(path: Path) -> int:
    """Print the log's lines as one JSON array of objects (unparsable lines as ``message``)."""
    import json  # noqa: PLC0415 -- only for --json

    events = []
    with path.open("rb") as lines:
        for raw in lines:
            try:
                events.append(_decoder.decode(raw))
            except msgspec.MsgspecError:
                events.append({"message": raw.decode(errors="replace").rstrip("\n")})
    sys.stdout.write(json.dumps({"path": str(path), "lines": events}, indent=2) + "\n")
    return 0


def find_log(
    logs_folder: Path,
    dag_id: str,
    task_id: str,
    *,
    run_id: str | None,
    try_number: int | None,
    map_index: int,
) -> Path:
    """Locate a try's log file.

    Raises:
        ConfigError: there is no such log, with what does exist.
    """
    dag_folder = logs_folder / f"dag_id={dag_id}"
    runs = sorted(dag_folder.glob("run_id=*"), key=lambda p: p.stat().st_mtime)
    if run_id is not None:
        runs = [p for p in runs if p.name == f"run_id={run_id}"]
    if not runs:
        raise ConfigError(f"no logs for DAG {dag_id!r}{_run_text(run_id)} under {logs_folder}")
    folder = runs[-1] / f"task_id={task_id}"
    if map_index >= 0:
        folder /= f"map_index={map_index}"
    attempts = sorted(folder.glob("attempt=*.log"), key=lambda p: int(p.stem.split("=")[1]))
    if try_number is not None:
        attempts = [p for p in attempts if p.name == f"attempt={try_number}.log"]
    if not attempts:
        raise ConfigError(f"no log for task {task_id!r} in {runs[-1].name} (looked in {folder})")
    return attempts[-1]


def _run_text(run_id: str | None) -> str:
    return f" run {run_id!r}" if run_id else ""


def format_line(raw: bytes) -> str:
    """Render one stored JSON log line for a terminal."""
    try:
        event = _decoder.decode(raw)
    except msgspec.MsgspecError:
        return raw.decode(errors="replace")
    timestamp = str(event.pop("timestamp", ""))[:23].replace("T", " ")
    level = str(event.pop("level", "info")).upper()
    logger = event.pop("logger", "")
    text = str(event.pop("event", ""))
    detail = event.pop("error_detail", None)
    extra = " ".join(f"{key}={value}" for key, value in event.items())
    line = f"{timestamp} {level:<7} {logger}: {text}" + (f"  {extra}" if extra else "") + "\n"
    return line + (str(detail).rstrip("\n") + "\n" if detail else "")
