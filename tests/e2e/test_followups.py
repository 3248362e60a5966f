"""Follow-ups through `setpoint run`: a pandas output feeds a `StructuredDataset` input, and an
output with a `HashMethod` is reached into by attribute and index.

The workflows live in this module so the tests can name them as `setpoint run` targets.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import pandas as pd
import pytest

from setpoint import task, workflow
from setpoint.types.hashing import HashMethod
from setpoint.types.structured import StructuredDataset
from tests.e2e.cli_util import setpoint, setpoint_json

pytestmark = pytest.mark.timeout(180)

HERE = "tests/e2e/test_followups.py"


@task
def pandas_table(n: int) -> pd.DataFrame:
    return pd.DataFrame({"a": list(range(n)), "b": [f"s{i}" for i in range(n)]})


@task
def structured_rows(sd: StructuredDataset) -> str:
    df = sd.open(pd.DataFrame).all()
    return f"{len(df)}:{','.join(map(str, df.columns))}:{int(df['a'].sum())}"


@workflow
def pandas_into_structured(n: int = 4) -> str:
    return structured_rows(sd=pandas_table(n=n))  # type: ignore[no-any-return]  # a promise, by design


@dataclass
class Report:
    name: str
    scores: list[int]


def _report_hash(r: Report) -> str:
    return r.name


@task
def hashed_report(name: str) -> Annotated[Report, HashMethod(_report_hash)]:
    return Report(name=name, scores=[3, 5, 8])


@task
def hashed_dict() -> Annotated[dict[str, int], HashMethod(lambda d: ",".join(sorted(d)))]:
    return {"k": 41, "$odd": 1}


@task
def shout(s: str) -> str:
    return s.upper()


@task
def plus_one(x: int) -> int:
    return x + 1


@workflow
def reach_into_hashed(name: str = "ada") -> tuple[str, int, int, dict[str, int]]:
    r = hashed_report(name=name)
    d = hashed_dict()
    return shout(s=r.name), plus_one(x=r.scores[2]), plus_one(x=d["k"]), d


def test_a_pandas_output_feeds_a_structured_dataset_input(home: Path) -> None:
    ex = setpoint_json(home, "run", f"{HERE}:pandas_into_structured", "--n", "5")["execution"]
    assert ex["phase"] == "SUCCEEDED" and ex["outputs"] == {"o0": "5:a,b:10"}


def test_attribute_and_index_access_on_a_hashed_output(home: Path) -> None:
    ex = setpoint_json(home, "run", f"{HERE}:reach_into_hashed")["execution"]
    assert ex["phase"] == "SUCCEEDED", ex
    # the hashed dict shows as itself, its "$odd" key as written
    assert ex["outputs"] == {"o0": "ADA", "o1": 9, "o2": 42, "o3": {"k": 41, "$odd": 1}}
    text = setpoint(home, "outputs", ex["id"], check=True).stdout
    assert "$hashed" not in text and "$$odd" not in text and "$odd" in text
