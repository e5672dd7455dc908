"""``airlock pools list|set|delete``: named slot limits on running task instances."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select

from airlock.cli.output import add_json_flag, database, emit, emit_json
from airlock.exceptions import ConfigError

if TYPE_CHECKING:
    import argparse

    from sqlalchemy.orm import Session

_COLUMNS = ("name", "slots", "occupied", "open", "description")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``pools`` and its subcommands."""
    pools = commands.add_parser("pools", help="manage pools (slot limits)")
    sub = pools.add_subparsers(dest="pools_command", required=True, metavar="COMMAND")
    listing = sub.add_parser("list", help="list pools and their occupied slots")
    add_json_flag(listing)
    listing.set_defaults(handler=list_pools)
    setting = sub.add_parser("set", help="create a pool or change its slots")
    setting.add_argument("name")
    setting.add_argument("slots", type=int)
    setting.add_argument("--description")
    add_json_flag(setting)
    setting.set_defaults(handler=set_pool)
    deleting = sub.add_parser("delete", help="delete a pool (its tasks are then not limited)")
    deleting.add_argument("name")
    add_json_flag(deleting)
    deleting.set_defaults(handler=delete_pool)


def pool_rows(session: Session) -> list[dict[str, Any]]:
    """Every pool with its slots, the slots held by queued and running tries, and the rest."""
    from airlock.db.models import Pool  # noqa: PLC0415 -- keep the CLI fast
    from airlock.scheduling.admission import used_slots  # noqa: PLC0415

    rows = []
    for pool in session.scalars(select(Pool).order_by(Pool.name)):
        used = used_slots(session, pool.name)
        rows.append(
            {
                "name": pool.name,
                "slots": pool.slots,
                "occupied": used,
                "open": pool.slots - used,
                "description": pool.description,
            }
        )
    return rows


def list_pools(args: argparse.Namespace) -> int:
    """Handle ``airlock pools list``."""
    with database() as sessions, sessions() as session:
        rows = pool_rows(session)
    emit(rows, _COLUMNS, as_json=args.json)
    return 0


def set_pool(args: argparse.Namespace) -> int:
    """Handle ``airlock pools set NAME SLOTS``."""
    from airlock.db.models import Pool  # noqa: PLC0415
    from airlock.server.upsert import upsert  # noqa: PLC0415

    if args.slots < 0:
        raise ConfigError(f"pool {args.name!r}: slots must be 0 or more, not {args.slots}")
    with database() as sessions, sessions.begin() as session:
        values = {"name": args.name, "slots": args.slots, "description": args.description}
        upsert(session, Pool, values, ("name",))
    row = {"name": args.name, "slots": args.slots, "description": args.description}
    if args.json:
        emit_json(row)
    else:
        print(f"pool {args.name} has {args.slots} slots")  # noqa: T201 -- CLI output
    return 0


def delete_pool(args: argparse.Namespace) -> int:
    """Handle ``airlock pools delete NAME``."""
    from airlock.db.models import Pool  # noqa: PLC0415
    from airlock.scheduling.scheduler import DEFAULT_POOL  # noqa: PLC0415

    if args.name == DEFAULT_POOL:
        raise ConfigError(f"{DEFAULT_POOL} cannot be deleted; change its slots with `pools set`")
    with database() as sessions, sessions.begin() as session:
        deleted = session.execute(delete(Pool).where(Pool.name == args.name)).rowcount  # type: ignore[attr-defined]
    if not deleted:
        raise ConfigError(f"there is no pool {args.name!r}")
    if args.json:
        emit_json({"name": args.name, "deleted": True})
    else:
        print(f"pool {args.name} deleted")  # noqa: T201 -- CLI output
    return 0
