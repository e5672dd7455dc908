"""Record how Apache Airflow itself runs its example DAGs, for airlock's comparison test.

Run on demand (it takes several minutes and downloads Airflow)::

    .venv/bin/python tests/compat/record_airflow_outcomes.py

It creates a separate virtualenv (``$AIRLOCK_COMPAT_CACHE/airflow-venv``, default
``~/.cache/airlock-compat``), installs the pinned ``apache-airflow`` and
``apache-airflow-providers-standard`` there, and for every example DAG file shipped in the
``apache-airflow-core`` and ``apache-airflow-providers-standard`` wheels:

- asks airlock whether the file parses under ``--compat airflow``; a file that does not (it
  imports something airlock does not provide) is listed as unsupported, with the reason;
- otherwise runs each of its DAGs with Airflow's ``dag.test()`` at a fixed logical date, in its
  own process with its own copy of a migrated database, and records every task instance's final
  state, try number and return value.

The result goes to ``tests/compat/airflow_outcomes.json``. Differences that have a documented
reason are kept across recordings in its ``known_differences``, and examples whose outcome
depends on the clock in ``nondeterministic`` (edit both by hand).

Run with ``--child FILE DAG_ID DATE`` (inside the Airflow virtualenv) it is the child that runs
one DAG; that mode imports only Airflow and the standard library.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

AIRFLOW_VERSION = "3.3.2"
PROVIDERS_STANDARD_VERSION = "1.21.0"
"""apache-airflow 3.3.2 requires providers-standard>=1.9.0; this is the release current then."""
LOGICAL_DATE = "2024-01-01T00:00:00+00:00"
EXAMPLE_FOLDERS = {
    "apache-airflow-core": "airflow/example_dags",
    "apache-airflow-providers-standard": "airflow/providers/standard/example_dags",
}
DATA_FILE = Path(__file__).with_name("airflow_outcomes.json")
CHILD_TIMEOUT = 900


def cache_folder() -> Path:
    """Where the Airflow virtualenv and the downloaded wheels live."""
    explicit = os.environ.get("AIRLOCK_COMPAT_CACHE")
    return Path(explicit) if explicit else Path.home() / ".cache" / "airlock-compat"


# --- the child: runs inside the Airflow virtualenv ----------------------------------------------


def run_child(path: str, dag_id: str, logical_date: str) -> None:
    """Run one DAG with ``dag.test()`` and print its outcome as one JSON line."""
    import datetime as dt  # noqa: PLC0415 -- the child imports only what it needs

    from airflow.dag_processing.dagbag import DagBag  # noqa: PLC0415
    from airflow.models.taskinstance import TaskInstance  # noqa: PLC0415
    from airflow.models.xcom import XComModel  # noqa: PLC0415
    from airflow.utils.session import create_session  # noqa: PLC0415
    from sqlalchemy import select  # noqa: PLC0415

    bag = DagBag(dag_folder=path)
    run = bag.dags[dag_id].test(logical_date=dt.datetime.fromisoformat(logical_date))
    with create_session() as session:
        query = select(TaskInstance).where(
            TaskInstance.dag_id == dag_id, TaskInstance.run_id == run.run_id
        )
        tis = []
        for ti in session.scalars(query):
            row = session.scalars(
                select(XComModel).where(
                    XComModel.dag_id == dag_id,
                    XComModel.run_id == run.run_id,
                    XComModel.task_id == ti.task_id,
                    XComModel.map_index == ti.map_index,
                    XComModel.key == "return_value",
                )
            ).first()
            value = XComModel.deserialize_value(row) if row is not None else None
            tis.append(
                {
                    "task_id": ti.task_id,
                    "map_index": ti.map_index,
                    "state": getattr(ti.state, "value", ti.state),
                    "try_number": ti.try_number,
                    "return_value": json.loads(json.dumps(value, default=str)),
                }
            )
    tis.sort(key=lambda t: (t["task_id"], t["map_index"]))
    print(
        "OUTCOME "
        + json.dumps({"run_state": getattr(run.state, "value", run.state), "task_instances": tis})
    )


# --- the driver: runs with airlock's interpreter ------------------------------------------------


def ensure_airflow_venv(cache: Path) -> Path:
    """Create the Airflow virtualenv with the pinned packages, unless it exists; return python."""
    venv = cache / "airflow-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pins = [
        f"apache-airflow=={AIRFLOW_VERSION}",
        f"apache-airflow-providers-standard=={PROVIDERS_STANDARD_VERSION}",
    ]
    subprocess.run([str(python), "-m", "pip", "install", "-q", *pins], check=True)
    return python


def site_packages(python: Path) -> Path:
    """The site-packages folder of the virtualenv ``python`` belongs to."""
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    out = subprocess.run([str(python), "-c", code], check=True, capture_output=True, text=True)
    return Path(out.stdout.strip())


def migrated_database(python: Path, folder: Path) -> Path:
    """Create an Airflow home with a migrated SQLite database; return the database file."""
    home = folder / "template"
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "AIRFLOW_HOME": str(home)}
    airflow = python.parent / "airflow"
    subprocess.run([str(airflow), "db", "migrate"], check=True, env=env, capture_output=True)
    return home / "airflow.db"


def airlock_dag_ids(path: Path) -> tuple[list[str], str | None]:
    """Parse ``path`` with airlock under ``--compat airflow``: its DAG ids, or why it cannot."""
    from airlock.scheduling.parsing import parse_dag_file  # noqa: PLC0415 -- driver only

    result = parse_dag_file(path, compat="airflow", timeout=60)
    if result.error is not None:
        return [], result.error.message.splitlines()[0]
    return [dag.dag_id for dag in result.dags], None


def run_in_airflow(python: Path, template_db: Path, path: Path, dag_id: str) -> dict[str, Any]:
    """Run one DAG with ``dag.test()`` in a fresh Airflow home; return its outcome."""
    with tempfile.TemporaryDirectory(prefix="airflow-home-") as home:
        shutil.copy(template_db, Path(home) / "airflow.db")
        # load_examples stays on: the example files belong to Airflow's own example bundle
        env = {**os.environ, "AIRFLOW_HOME": home}
        argv = [str(python), __file__, "--child", str(path), dag_id, LOGICAL_DATE]
        proc = subprocess.run(
            argv, env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT, check=False
        )
    for line in proc.stdout.splitlines():
        if line.startswith("OUTCOME "):
            outcome: dict[str, Any] = json.loads(line.removeprefix("OUTCOME "))
            return outcome
    tail = "\n".join(proc.stderr.splitlines()[-5:])
    return {"error": f"dag.test() did not report (exit {proc.returncode}): {tail}"}


def record() -> None:
    """Record every example's outcome into ``airflow_outcomes.json``."""
    cache = cache_folder()
    python = ensure_airflow_venv(cache)
    packages = site_packages(python)
    previous = json.loads(DATA_FILE.read_text()) if DATA_FILE.exists() else {}
    with tempfile.TemporaryDirectory(prefix="airlock-record-") as folder:
        template_db = migrated_database(python, Path(folder))
        examples, unsupported = _survey(packages)
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            futures = {
                key: pool.submit(run_in_airflow, python, template_db, packages / key[1], key[2])
                for key in examples
            }
            outcomes = {key: future.result() for key, future in futures.items()}
    data = {
        "airflow_version": AIRFLOW_VERSION,
        "providers_standard_version": PROVIDERS_STANDARD_VERSION,
        "logical_date": LOGICAL_DATE,
        "examples": [
            {"wheel": wheel, "path": path, "dag_id": dag_id, **outcomes[(wheel, path, dag_id)]}
            for wheel, path, dag_id in examples
        ],
        "unsupported": unsupported,
        "known_differences": previous.get("known_differences", {}),
        "nondeterministic": previous.get("nondeterministic", {}),
    }
    DATA_FILE.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n")
    print(f"recorded {len(examples)} DAGs; {len(unsupported)} files unsupported")


def _survey(packages: Path) -> tuple[list[tuple[str, str, str]], list[dict[str, str]]]:
    """Sort the example files into runnable DAGs and unsupported files (with the reason)."""
    examples: list[tuple[str, str, str]] = []
    unsupported: list[dict[str, str]] = []
    for wheel, folder in EXAMPLE_FOLDERS.items():
        for path in sorted((packages / folder).glob("*.py")):
            if path.name == "__init__.py":
                continue
            relative = str(path.relative_to(packages))
            dag_ids, reason = airlock_dag_ids(path)
            if reason is not None:
                unsupported.append({"wheel": wheel, "path": relative, "reason": reason})
            examples.extend((wheel, relative, dag_id) for dag_id in dag_ids)
    return examples, unsupported


def main() -> None:
    """Record outcomes, or (``--child``) run one DAG inside the Airflow virtualenv."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=3, metavar=("FILE", "DAG_ID", "DATE"))
    args = parser.parse_args()
    if args.child:
        run_child(*args.child)
    else:
        record()


if __name__ == "__main__":
    main()
