"""`SQLite3Task`: a SQL query against a SQLite database file, its result a dataframe.

    top = SQLite3Task(
        name="top_tracks",
        query_template="SELECT * FROM tracks LIMIT {{ .inputs.limit }}",
        inputs=kwtypes(limit=int),
        task_config=SQLite3Config(uri="https://example.org/chinook.zip", compressed=True),
    )

As in flytekit: the database at ``uri`` (a local path, ``file://`` or ``http(s)://`` URL; with
``compressed=True`` an archive holding exactly one file) is copied to a scratch directory, the
query's ``{{ .inputs.NAME }}`` placeholders are replaced by the input values, and the one output,
``results``, is the query's rows as a pandas DataFrame (stored as Parquet like any dataframe).
Every input must appear in the template and every placeholder must name an input: both are
checked when the task is declared. The values are pasted into the SQL text, as flytekit does, so
inputs should come from trusted code, not from end users.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import sqlite3
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from setpoint.errors import SpecError, TaskError
from setpoint.sdk.shell import InstanceTask

PLACEHOLDER = re.compile(r"{{\s*\.inputs\.(\w+)\s*}}", re.IGNORECASE)


@dataclass(frozen=True)
class SQLite3Config:
    """Where the database is: ``uri`` (path or URL); ``compressed`` if it is an archive of one file."""

    uri: str
    compressed: bool = False


def interpolate_query(template: str, values: Mapping[str, Any]) -> str:
    """The query with every ``{{ .inputs.NAME }}`` replaced by ``str(values[NAME])``."""
    return PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), template)


def fetch_database(config: SQLite3Config, into: Path, where: str) -> Path:
    """A local copy of the database (unpacked when compressed)."""
    parsed = urllib.parse.urlparse(config.uri)
    local = into / (Path(parsed.path).name or "database")
    try:
        if parsed.scheme in ("http", "https"):
            with urllib.request.urlopen(config.uri, timeout=60) as response, local.open("wb") as out:
                shutil.copyfileobj(response, out)
        else:
            source = Path(urllib.request.url2pathname(parsed.path)) if parsed.scheme == "file" else Path(config.uri)
            shutil.copyfile(source, local)
    except OSError as e:
        raise TaskError(f"{where}: cannot fetch the database {config.uri}: {e}") from e
    if not config.compressed:
        return local
    unpacked = into / "unpacked"
    try:
        shutil.unpack_archive(local, unpacked)
    except (shutil.ReadError, ValueError) as e:
        raise TaskError(f"{where}: {config.uri} is not an archive shutil can unpack: {e}") from e
    files = [p for p in unpacked.rglob("*") if p.is_file()]
    if len(files) != 1:
        raise TaskError(f"{where}: the archive {config.uri} must hold exactly one file, found {len(files)}")
    return files[0]


class SQLite3Task(InstanceTask):
    """A SQLite query as a task; its output ``results`` is a pandas DataFrame (see the module docstring)."""

    def __init__(
        self,
        name: str,
        query_template: str,
        inputs: Mapping[str, Any] | None = None,
        task_config: SQLite3Config | None = None,
        output_schema_type: Any = None,
        **options: Any,
    ) -> None:
        where = f"SQLite3Task '{name}'"
        if not isinstance(task_config, SQLite3Config) or not task_config.uri:
            raise SpecError(f"{where}: task_config=SQLite3Config(uri=...) is required")
        inputs = dict(inputs or {})
        used = set(PLACEHOLDER.findall(query_template))
        unknown = sorted(used - set(inputs))
        if unknown:
            raise SpecError(f"{where}: the query uses {', '.join(unknown)} but inputs declares no such input")
        unused = sorted(set(inputs) - used)
        if unused:
            raise SpecError(f"{where}: inputs {', '.join(unused)} do not appear in the query as {{{{ .inputs.NAME }}}}")
        import pandas as pd  # the output type; loaded only by modules that declare a SQLite3Task

        self.output_schema_type = output_schema_type
        self.query_template = query_template
        self.task_config = task_config
        super().__init__(name, inputs, [("results", output_schema_type or pd.DataFrame)], **options)

    def execute(self, **kwargs: Any) -> tuple[Any, ...]:
        import pandas as pd

        where = f"SQLite3 task '{self.name}'"
        query = interpolate_query(self.query_template, kwargs)
        with tempfile.TemporaryDirectory(prefix="setpoint-sqlite-") as scratch:
            db = fetch_database(self.task_config, Path(scratch), where)
            with contextlib.closing(sqlite3.connect(db)) as con:
                try:
                    df = pd.read_sql_query(query, con)
                except (sqlite3.Error, pd.errors.DatabaseError) as e:
                    raise TaskError(f"{where}: the query failed: {e}\nquery: {query}") from e
        return (self._as_output(df),)

    def _as_output(self, df: Any) -> Any:
        import pandas as pd

        t = self.output_schema_type
        if t is None or (isinstance(t, type) and issubclass(t, pd.DataFrame)):
            return df
        if getattr(t, "__module__", "").startswith("pyarrow"):
            import pyarrow as pa

            return pa.Table.from_pandas(df, preserve_index=False)
        return t(dataframe=df)  # a structured-dataset type wraps the frame
