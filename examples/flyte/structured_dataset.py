"""StructuredDataset: a table passed between tasks as Parquet, read back with only the columns a task declares.

setpoint run examples/flyte/structured_dataset.py:income_by_age --rows 6
"""

from __future__ import annotations

from typing import Annotated

import pandas as pd

from setpoint.flytekit import kwtypes, task, workflow
from setpoint.flytekit.types.structured import StructuredDataset

Features = kwtypes(age=int, income=float)


@task
def load_customers(rows: int) -> StructuredDataset:
    df = pd.DataFrame(
        {
            "name": [f"customer-{i}" for i in range(rows)],
            "age": [20 + 10 * (i % 3) for i in range(rows)],
            "income": [1000.0 * (i + 1) for i in range(rows)],
        }
    )
    return StructuredDataset(dataframe=df)


@task
def mean_income_by_age(customers: Annotated[StructuredDataset, Features]) -> dict[str, float]:
    df = customers.open(pd.DataFrame).all()
    assert list(df.columns) == ["age", "income"], df.columns  # only the declared columns are read
    means = df.groupby("age")["income"].mean()
    return {str(age): float(value) for age, value in means.items()}


@workflow
def income_by_age(rows: int = 6) -> dict[str, float]:
    return mean_income_by_age(customers=load_customers(rows=rows))
