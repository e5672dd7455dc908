"""Airflow's own example DAGs run under ``airlock --compat airflow`` as they run under Airflow.

The outcomes Airflow gave (``airflow_outcomes.json``, recorded by ``record_airflow_outcomes.py``
with ``dag.test()``) are compared with airlock's, task instance by task instance: final state,
try number and return value. The example files are read from the pinned wheels, downloaded
with ``pip download --no-deps`` into ``$AIRLOCK_COMPAT_CACHE`` (default
``~/.cache/airlock-compat``), never copied into this repository. Every recorded example runs
once, all of them at a few at a time, in one session fixture; each test compares one DAG.
Examples that differ for a documented reason are strict xfails, so a fix is noticed.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest
from tests.conftest import require_service

from airlock.execution import xcom_values
from airlock.local_run import LocalDagRun, LocalRunOptions, RunReport
from airlock.settings import Settings

DATA = json.loads(Path(__file__).with_name("airflow_outcomes.json").read_text())
WHEELS = {
    "apache-airflow-core": DATA["airflow_version"],
    "apache-airflow-providers-standard": DATA["providers_standard_version"],
}
CONCURRENT_RUNS = 3


def _cache() -> Path:
    explicit = os.environ.get("AIRLOCK_COMPAT_CACHE")
    return Path(explicit) if explicit else Path.home() / ".cache" / "airlock-compat"


def _cases() -> list[Any]:
    """One case per recorded DAG that Airflow ran, marked with its documented difference."""
    known, clocked = DATA["known_differences"], DATA["nondeterministic"]
    cases = []
    for example in DATA["examples"]:
        dag_id = example["dag_id"]
        if "error" in example or dag_id in clocked:
            continue
        marks = [pytest.mark.xfail(strict=True, reason=known[dag_id])] if dag_id in known else []
        cases.append(pytest.param(example, id=dag_id, marks=marks))
    return cases


@pytest.fixture(scope="session")
def example_folder() -> Path:
    """The example DAG files of the pinned wheels, extracted into the cache."""
    cache = _cache()
    wheels, examples = cache / "wheels", cache / "examples"
    for name, version in WHEELS.items():
        target = examples / name
        if target.is_dir():
            continue
        wheel = _download(name, version, wheels)
        with zipfile.ZipFile(wheel) as archive:
            members = [m for m in archive.namelist() if "/example_dags/" in m]
            archive.extractall(target, members)
    return examples


def _download(name: str, version: str, folder: Path) -> Path:
    """Download one pinned wheel (no dependencies) unless it is already in ``folder``."""
    stem = name.replace("-", "_")
    found = min(folder.glob(f"{stem}-{version}-*.whl"), default=None)
    if found is not None:
        return found
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(folder)]
    done = subprocess.run(
        [*command, f"{name}=={version}"], capture_output=True, text=True, check=False
    )
    require_service(done.returncode == 0, f"PyPI, to download {name}=={version}")
    return min(folder.glob(f"{stem}-{version}-*.whl"))


@pytest.fixture(scope="session")
def airlock_outcomes(
    example_folder: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """Run every recorded example under airlock, a few at a time; outcomes by dag_id."""
    home = tmp_path_factory.mktemp("compat-home")
    settings = Settings(home=home, heartbeat_interval=0.5, kill_grace_period=1.0, api_retries=2)
    examples = [case.values[0] for case in _cases()]
    return asyncio.run(_run_all(examples, example_folder, settings))


async def _run_all(
    examples: list[dict[str, Any]], folder: Path, settings: Settings
) -> dict[str, Any]:
    gate = asyncio.Semaphore(CONCURRENT_RUNS)

    async def one(example: dict[str, Any]) -> tuple[str, Any]:
        options = LocalRunOptions(
            dag_file=folder / example["wheel"] / example["path"],
            dag_id=example["dag_id"],
            logical_date=datetime.fromisoformat(DATA["logical_date"]),
            parallelism=2,
            compat="airflow",
        )
        async with gate:
            try:
                report = await LocalDagRun(options, settings).run_async()
            except Exception as exc:
                return example["dag_id"], f"{type(exc).__name__}: {exc}"
        return example["dag_id"], _outcome(report)

    return dict(await asyncio.gather(*(one(example) for example in examples)))


def _outcome(report: RunReport) -> dict[str, Any]:
    """The parts of a run report Airflow's recording holds, in the same form."""
    tis = [
        {
            "task_id": ti.task_id,
            "map_index": ti.map_index,
            "state": ti.state,
            "try_number": ti.try_number,
            "return_value": _plain(ti.return_value),
        }
        for ti in report.task_instances
    ]
    tis.sort(key=lambda ti: (ti["task_id"], ti["map_index"]))
    return {"run_state": report.state, "task_instances": tis}


def _plain(value: Any) -> Any:
    """A return value as JSON data, tuples as lists and other types as str, like the recording."""
    decoded = xcom_values.deserialize(msgspec.json.encode(value))
    return json.loads(json.dumps(decoded, default=str))


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("example", _cases())
def test_example_dag_matches_airflow(
    example: dict[str, Any], airlock_outcomes: dict[str, Any]
) -> None:
    """An Airflow example DAG ends with the states, tries and return values Airflow gave it."""
    expected = {"run_state": example["run_state"], "task_instances": example["task_instances"]}
    assert airlock_outcomes[example["dag_id"]] == expected


def test_examples_left_out_are_accounted_for() -> None:
    """Every example Airflow could not run, or whose outcome follows the clock, says why."""
    for example in DATA["examples"]:
        reason = example.get("error") or DATA["nondeterministic"].get(example["dag_id"])
        ran = example.get("run_state") is not None
        assert ran or reason, example["dag_id"]
    assert set(DATA["nondeterministic"]) <= {e["dag_id"] for e in DATA["examples"]}


def test_every_unsupported_example_has_a_reason() -> None:
    """Each example file airlock cannot run is recorded with the error that names why."""
    assert DATA["unsupported"], "the recording lists the unsupported examples"
    for entry in DATA["unsupported"]:
        assert entry["reason"], entry["path"]
