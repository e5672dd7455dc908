"""An XCom over the size limit fails its task with a clear reason; the rest of the run goes on."""

from __future__ import annotations

from dataclasses import replace

from tests.support import by_task, read_log

LIMIT = 1024 * 1024

BIG_XCOM = """
with DAG("big_xcom") as dag:
    @task
    def too_big():
        return "x" * (2 * 1024 * 1024)

    @task
    def pushes_too_much():
        from airlock import get_current_context
        get_current_context()["ti"].xcom_push("blob", ["y" * 1024] * 2048)

    @task
    def fine():
        return "x" * 1000

    too_big()
    pushes_too_much()
    fine()
"""


def test_an_oversized_xcom_fails_only_its_task(write_dag, run_dag, fast_settings):
    """Returning or pushing more than xcom_max_bytes fails that task, naming sizes and limit."""
    settings = replace(fast_settings, xcom_max_bytes=LIMIT)
    report = run_dag(write_dag(BIG_XCOM), settings=settings)
    tis = by_task(report)
    assert tis["fine"].state == "success"
    assert tis["fine"].return_value == "x" * 1000
    for task_id, key in (("too_big", "return_value"), ("pushes_too_much", "blob")):
        ti = tis[task_id]
        assert ti.state == "failed"
        assert repr(key) in ti.reason
        assert f"{LIMIT} bytes" in ti.reason
        assert f"{LIMIT} bytes" in read_log(settings, report, task_id)
