"""A runner has a memory limit when configured; past it, the try fails saying so."""

from __future__ import annotations

from dataclasses import replace

import pytest
from tests.support import all_tries, by_task, read_log

from airlock.definitions.serialization import serialize_task
from airlock.exceptions import DagDefinitionError
from airlock.operators.empty import EmptyOperator

MIB = 1024 * 1024
COPIES = 3

HOG_DAG = """
with DAG("memory") as dag:
    for i in range({copies}):
        @task(task_id=f"hog_{{i}}", executor_config={config!r}, retries={retries}, retry_delay=0)
        def hog():
            blob = bytearray(512 * 1024 * 1024)
            return len(blob)

        hog()

    @task(executor_config={config!r})
    def modest():
        return len(bytearray(8 * 1024 * 1024))

    modest()
"""


@pytest.fixture(params=["fork", "exec"])
def launch_settings(request, fast_settings):
    """The fast settings, with runners started one way and then the other."""
    return replace(fast_settings, runner_start=request.param)


def test_a_task_over_its_memory_limit_fails_saying_so(write_dag, run_dag, launch_settings):
    """A task allocating past executor_config's memory_limit fails: 'exceeded its memory limit'."""
    config = {"memory_limit": 128 * MIB}
    path = write_dag(HOG_DAG.format(copies=COPIES, config=config, retries=0))
    report = run_dag(path, settings=launch_settings)
    tis = by_task(report)
    assert tis["modest"].state == "success"
    for i in range(COPIES):
        ti = tis[f"hog_{i}"]
        assert ti.state == "failed"
        assert ti.reason.startswith("the task exceeded its memory limit of 128 MiB (MemoryError")
        assert "exceeded its memory limit of 128 MiB" in read_log(
            launch_settings, report, ti.task_id
        )


def test_the_runner_memory_limit_setting_applies_to_every_task(write_dag, run_dag, fast_settings):
    """runner_memory_limit limits tasks that set no limit of their own; retries still happen."""
    path = write_dag(HOG_DAG.format(copies=COPIES, config={}, retries=1))
    settings = replace(fast_settings, runner_memory_limit=96 * MIB)
    report = run_dag(path, settings=settings)
    hog_tries = [t for t in all_tries(report) if t[0].startswith("hog_")]
    assert [(t[1], t[2]) for t in hog_tries] == [(1, "up_for_retry"), (2, "failed")] * COPIES
    assert all("exceeded its memory limit of 96 MiB" in t[3] for t in hog_tries)
    assert by_task(report)["modest"].state == "success"


def test_without_a_limit_the_same_task_succeeds(write_dag, run_dag, fast_settings):
    """The limit is what fails the task: with none, the 512 MiB allocation succeeds."""
    path = write_dag(HOG_DAG.format(copies=1, config={}, retries=0))
    report = run_dag(path)
    assert by_task(report)["hog_0"].return_value == 512 * MIB


@pytest.mark.parametrize("limit", [0, -1, "512M", 1.5, True])
def test_a_memory_limit_that_is_not_a_byte_count_is_refused(limit):
    """executor_config['memory_limit'] must be a positive int; the error names the task."""
    task = EmptyOperator(task_id="greedy", executor_config={"memory_limit": limit})
    with pytest.raises(
        DagDefinitionError, match=r"task 'greedy': executor_config\['memory_limit'\]"
    ):
        serialize_task(task)
