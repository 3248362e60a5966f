"""Data types as flytekit users write them: run in-process and through `setpoint run`."""

from __future__ import annotations

import hashlib
import os
import typing
from pathlib import Path
from typing import Annotated

import pandas as pd
import pyarrow as pa

from setpoint.sdk.shell import kwtypes
from setpoint.sdk.task import task
from setpoint.sdk.workflow import workflow
from setpoint.types.files import Directory, File
from setpoint.types.hashing import HashMethod
from setpoint.types.structured import StructuredDataset

ALL_COLS = kwtypes(a=int, b=str, c=float)
A_ONLY = kwtypes(a=int)
CALLS = "SETPOINT_TEST_CALLS"  # a file the cached consumer appends to, so tests can count its runs

# -- StructuredDataset ------------------------------------------------------------------------------


@task
def make_sd(n: int) -> Annotated[StructuredDataset, ALL_COLS]:
    df = pd.DataFrame({"a": list(range(n)), "b": [f"s{i}" for i in range(n)], "c": [i / 2 for i in range(n)]})
    return StructuredDataset(dataframe=df)


@task
def sum_a(sd: Annotated[StructuredDataset, A_ONLY]) -> str:
    df = sd.open(pd.DataFrame).all()
    return f"{list(df.columns)}:{int(df['a'].sum())}"


@task
def arrow_cols(sd: StructuredDataset) -> list[str]:
    table = sd.open(pa.Table).all()
    assert isinstance(table, pa.Table)
    return list(table.column_names)


@workflow
def sd_wf(n: int = 4) -> tuple[str, list[str]]:
    sd = make_sd(n=n)
    return sum_a(sd=sd), arrow_cols(sd=sd)


@task
def bare_frame() -> Annotated[pd.DataFrame, ALL_COLS]:
    return pd.DataFrame({"a": [1, 2], "b": ["x", "y"], "c": [0.5, 1.5], "extra": [9, 9]})


@task
def frame_subset(df: Annotated[pd.DataFrame, kwtypes(b=str)]) -> list[str]:
    return [*df.columns, *df["b"]]


@workflow
def frame_wf() -> list[str]:
    return frame_subset(df=bare_frame())


@task
def describe_input(sd: StructuredDataset) -> str:
    df = sd.all()
    return f"{len(df)} rows: {','.join(df.columns)}"


@workflow
def sd_input_wf(sd: StructuredDataset) -> str:
    return describe_input(sd=sd)


@task
def from_uri(path: str) -> StructuredDataset:
    return StructuredDataset(uri=path)


@workflow
def uri_wf(path: str) -> str:
    return describe_input(sd=from_uri(path=path))


# -- FlyteFile / FlyteDirectory ----------------------------------------------------------------------


@task
def write_csv(rows: int) -> File[typing.TypeVar("csv")]:  # type: ignore[valid-type, type-arg]
    Path("data.csv").write_text("".join(f"{i},{i * i}\n" for i in range(rows)))
    return File("data.csv")


@task
def read_csv(f: File["csv"]) -> str:  # type: ignore[type-arg, name-defined]  # noqa: UP037, F821
    local = f.download()
    with f.open("r") as fh:
        lines = fh.read().splitlines()
    return f"{os.path.basename(local)}:{len(lines)}:{f.extension}:{os.fspath(f) == f.path}"


@workflow
def file_wf(rows: int = 3) -> str:
    return read_csv(f=write_csv(rows=rows))


@task
def count_lines(f: File) -> int:
    with f.open() as fh:
        return len(fh.read().splitlines())


@workflow
def file_input_wf(f: File) -> int:
    return count_lines(f=f)


@task
def list_dir(d: Directory) -> list[str]:
    top = [os.path.basename(os.fspath(e)) for e in Directory.listdir(d)]
    return top + [rel for _, rel in d.crawl()]


@workflow
def dir_input_wf(d: Directory) -> list[str]:
    return list_dir(d=d)


# -- HashMethod ---------------------------------------------------------------------------------------


def hash_by_a(df: pd.DataFrame) -> str:
    """Rows with equal 'a' hash the same, whatever else changes."""
    return hashlib.sha256(",".join(str(v) for v in df["a"]).encode()).hexdigest()


@task
def hashed_frame(tag: str) -> Annotated[pd.DataFrame, HashMethod(hash_by_a)]:
    return pd.DataFrame({"a": [1, 2, 3], "tag": [tag] * 3})


@task
def plain_frame(tag: str) -> pd.DataFrame:
    return pd.DataFrame({"a": [1, 2, 3], "tag": [tag] * 3})


@task(cache=True, cache_version="1")
def consume(df: pd.DataFrame) -> int:
    calls = os.environ.get(CALLS)
    if calls:
        with open(calls, "a") as fh:
            fh.write("x")
    return int(df["a"].sum())


@workflow
def hashed_wf(tag: str) -> int:
    return consume(df=hashed_frame(tag=tag))


@workflow
def plain_wf(tag: str) -> int:
    return consume(df=plain_frame(tag=tag))


# -- pickle ---------------------------------------------------------------------------------------------


class Opaque:
    def __init__(self, value: int) -> None:
        self.value = value


@task(unsafe_pickle=True)
def make_opaque(x: int) -> Opaque:
    return Opaque(x)


@task(unsafe_pickle=True)
def read_opaque(o: Opaque) -> int:
    return o.value * 10


@workflow
def pickle_wf(x: int = 4) -> int:
    return read_opaque(o=make_opaque(x=x))
