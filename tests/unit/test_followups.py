"""Small rules with sharp edges: dataframe kinds feed each other, plain output looks through
`HashMethod` wrappers and dict-key escapes, and binding paths step through hashed outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import pyarrow as pa
from rich.console import Console

from setpoint.adapters.blobs import open_blob_store
from setpoint.cli import render
from setpoint.core.model import ExecutionRecord, NodeRecord
from setpoint.core.phases import ExecutionPhase, NodePhase
from setpoint.service.inspect import NodeView
from setpoint.spec.bindings import follow_path
from setpoint.spec.types import INT, TypeKind, TypeRef, is_assignable
from setpoint.types import LiteralContext, to_literal
from setpoint.types.engine import type_ref
from setpoint.types.hashing import HashMethod, hashed_literal
from setpoint.types.plain import literal_to_plain
from setpoint.types.structured import StructuredDataset


def test_any_dataframe_kind_feeds_any_dataframe_kind() -> None:
    kinds = [type_ref(t, where="t") for t in (pd.DataFrame, pa.Table, StructuredDataset)]
    assert [k.kind for k in kinds] == [TypeKind.DATAFRAME] * 3 and len(set(kinds)) == 3
    for source in kinds:
        for target in kinds:
            assert is_assignable(source, target), (source, target)
        assert is_assignable(TypeRef.list_of(source), TypeRef.list_of(kinds[2]))
        assert is_assignable(source, TypeRef.optional(kinds[2]))
        assert not is_assignable(source, INT) and not is_assignable(INT, source)


def _first(xs: list[int]) -> str:
    return str(xs[0])


def test_plain_output_shows_a_hashed_value_as_its_value(tmp_path: Path) -> None:
    ctx = LiteralContext(open_blob_store(tmp_path / "blobs"), tmp_path / "work")
    lit = to_literal([3, 4], Annotated[list[int], HashMethod(_first)], ctx, where="o")
    assert lit == hashed_literal("3", [3, 4])
    assert literal_to_plain(lit) == [3, 4]
    assert literal_to_plain({"a": hashed_literal("h", {"$float": "nan"})}) == {"a": "nan"}


def test_plain_output_shows_dollar_keys_as_written(tmp_path: Path) -> None:
    ctx = LiteralContext(open_blob_store(tmp_path / "blobs"), tmp_path / "work")
    lit = to_literal({"$k": 1, "$$two": 2, "plain": 3}, dict[str, int], ctx, where="o")
    assert lit == {"$$k": 1, "$$$two": 2, "plain": 3}  # stored escaped, so data never looks like a tag
    assert literal_to_plain(lit) == {"$k": 1, "$$two": 2, "plain": 3}


def test_a_path_steps_through_a_hashed_output() -> None:
    value = hashed_literal("h", {"name": "x", "items": [10, hashed_literal("g", {"k": 7})]})
    assert follow_path(value, ("name",)) == ("x", ())
    assert follow_path(value, ("items", 0)) == (10, ())
    assert follow_path(value, ("items", 1, "k")) == (7, ())
    ref = {"$ref": {"uri": "sha256:" + "ab" * 32, "sha256": "ab" * 32, "size": 3, "format": "json"}}
    offloaded = hashed_literal("h", ref)  # a large hashed value is offloaded inside its wrapper
    assert follow_path(offloaded, ("a", 1), offloaded=lambda v: isinstance(v, dict) and "$ref" in v) == (
        ref,
        ("a", 1),
    )
    assert follow_path(value, ()) == (value, ())  # no steps: the wrapper stays (it keys caches downstream)


def _shown(renderable: object) -> str:
    console = Console(record=True, width=200)
    console.print(renderable)
    return console.export_text()


def test_terminal_views_show_values_as_written_never_as_markup() -> None:
    rec = ExecutionRecord(
        "e[b]1",
        "p[i]",
        "wf[red]",
        "s" * 64,
        "c" * 64,
        {"flags": [True, False]},
        phase=ExecutionPhase.ABORTED,
        outputs={"o0": [True, False]},
        abort_reason="[x] stop [bold]now[/]",
    )
    console = Console(record=True, width=200)
    render.outcome_line(console, rec)
    assert console.export_text() == "■ execution e[b]1 aborted: [x] stop [bold]now[/]\n"
    panel = _shown(render.execution_panel(rec))
    assert "wf[red]  (project p[i])" in panel and "o0=[true, false]" in panel and "[x] stop [bold]now[/]" in panel
    listing = _shown(render.executions_table([rec]))
    assert "e[b]1" in listing and "wf[red]" in listing and "p[i]" in listing
    view = NodeView(
        "n[b]", "t", ("up[i]",), NodeRecord("e[b]1", "n[b]", NodePhase.SUCCEEDED, outputs={"o0": [True]}), ()
    )
    nodes = _shown(render.nodes_table([view]))
    assert "n[b]" in nodes and "up[i]" in nodes and "o0=[true]" in nodes


def test_logs_are_read_in_one_place() -> None:
    from setpoint.service import inspect

    assert not hasattr(inspect, "attempt_logs")  # replaced by setpoint.service.logs


def test_the_logs_schema_lists_the_notes_the_route_returns(tmp_path: Path) -> None:
    from setpoint.client.embedded import Client
    from setpoint.config.settings import Settings
    from setpoint.server.app import create_app

    with Client(Settings(home=tmp_path / "home")) as client:
        doc = create_app(client, auth=False).openapi()
    route = next(op["get"] for path, op in doc["paths"].items() if path.endswith("/logs"))
    ref = route["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    entries = doc["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    assert set(entries["required"]) == {"logs", "notes"}
    note = doc["components"]["schemas"][entries["properties"]["notes"]["items"]["$ref"].rsplit("/", 1)[-1]]
    assert note["properties"].keys() == {"node", "message"} and set(note["required"]) == {"node", "message"}
