"""SQLite3Task: a SQL query over a SQLite file as a task; its rows arrive as a pandas DataFrame.

    setpoint run examples/flyte/sql_reports.py:top_regions --min-orders 2

The database is a small sales table this module writes next to the system's temporary files the
first time it is imported (a real project would point `SQLite3Config(uri=...)` at its own file or URL).
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from pathlib import Path

import pandas as pd

from setpoint.flytekit import kwtypes, task, workflow
from setpoint.flytekit.extras.sqlite3.task import SQLite3Config, SQLite3Task

SALES = [("north", 120.0), ("north", 80.0), ("south", 200.0), ("east", 50.0), ("east", 70.0), ("east", 30.0)]


def sales_db() -> str:
    path = Path(tempfile.gettempdir()) / "setpoint-example-sales.sqlite"
    if not path.exists():
        staging = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        db = sqlite3.connect(staging)
        with db:
            db.execute("CREATE TABLE orders (region TEXT, amount REAL)")
            db.executemany("INSERT INTO orders VALUES (?, ?)", SALES)
        db.close()
        staging.replace(path)
    return str(path)


orders_by_region = SQLite3Task(
    name="orders_by_region",
    query_template="""
        SELECT region, COUNT(*) AS orders, SUM(amount) AS revenue
        FROM orders GROUP BY region HAVING COUNT(*) >= {{ .inputs.min_orders }} ORDER BY revenue DESC, region
    """,
    inputs=kwtypes(min_orders=int),
    task_config=SQLite3Config(uri=sales_db()),
)


@task
def format_report(rows: pd.DataFrame) -> list[str]:
    return [f"{r.region}: {r.orders} orders, {r.revenue:.0f}" for r in rows.itertuples()]


@workflow
def top_regions(min_orders: int = 2) -> list[str]:
    return format_report(rows=orders_by_region(min_orders=min_orders))
