"""A small ETL pipeline: the example `airlock dags test examples/etl.py` runs.

`extract` returns orders, `transform` receives them (TaskFlow passes the value as XCom) and
totals them per customer, `load` writes the totals to a JSON file, and `report` (a classic
operator) reads the file back and logs a summary. Every task runs in its own runner process.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path

from airlock import DAG, BaseOperator, task

log = logging.getLogger(__name__)

OUTPUT_DIR = Path(os.environ.get("ETL_OUTPUT_DIR", ".airlock/output"))


class ReportOperator(BaseOperator):
    """Reads the file another task wrote (its path comes by XCom) and logs each customer."""

    def __init__(self, *, source_task_id: str, **kwargs):
        super().__init__(**kwargs)
        self.source_task_id = source_task_id

    def execute(self, context):
        path = context["ti"].xcom_pull(task_ids=self.source_task_id)
        totals = json.loads(Path(path).read_text())
        for customer, total in sorted(totals.items()):
            self.log.info("%s spent %.2f", customer, total)
        return {"customers": len(totals), "revenue": round(sum(totals.values()), 2)}


with DAG(
    "example_etl",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    schedule=None,
    default_args={"retries": 1},
    tags=["example"],
) as dag:

    @task
    def extract() -> list[dict]:
        orders = [
            {"customer": "ada", "amount": 12.5},
            {"customer": "grace", "amount": 7.25},
            {"customer": "ada", "amount": 30.0},
            {"customer": "linus", "amount": 3.1},
        ]
        print(f"extracted {len(orders)} orders")
        return orders

    @task
    def transform(orders: list[dict]):
        totals: dict[str, float] = {}
        for order in orders:
            totals[order["customer"]] = totals.get(order["customer"], 0.0) + order["amount"]
        log.info("totals for %d customers", len(totals))
        return totals

    @task
    def load(totals: dict[str, float], ds=None) -> str:
        OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
        path = OUTPUT_DIR / f"totals-{ds}.json"
        path.write_text(json.dumps(totals, indent=2))
        return str(path.resolve())

    loaded = load(transform(extract()))
    loaded >> ReportOperator(task_id="report", source_task_id="load")
