"""Each record has one JSON form, derived from its dataclass fields: these tests hold that in place.

A round trip over every record type with every field set (a field the form forgot, or a converter
that loses a type, fails here), the store's rows from the same description, and the API's OpenAPI
schema, whose properties for each record must be exactly the record's fields (renamed or left out
only as its `Form` says). Adding a field to a record therefore needs no edit in any of them.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import typing
from collections.abc import Callable
from typing import Any

import pytest

from setpoint.adapters.store import codec
from setpoint.client.wire import FORMS, from_wire, plain, to_wire
from setpoint.core.model import (
    AbortReason,
    AttemptRecord,
    CacheStatus,
    CatalogEntry,
    ErrorInfo,
    Event,
    EventKind,
    ExecutionConfig,
    ExecutionMode,
    ExecutionRecord,
    LineageDirection,
    LineageRow,
    NodeRecord,
)
from setpoint.core.phases import AttemptPhase, ErrorKind, ExecutionPhase, NodePhase
from setpoint.core.recovery import PlanItem
from setpoint.core.wire import ROWS, Form, Forms
from setpoint.ports import RegisteredEntity
from setpoint.service.inspect import NodeView
from setpoint.service.lineage import Consumer, LineageNode, Source

ERROR = ErrorInfo(ErrorKind.SYSTEM, "ProcessLost", "the worker died", retryable=False, node="train")
EXECUTION = ExecutionRecord(
    id="ex-full",
    project="team",
    workflow="pipeline",
    spec_digest="s" * 64,
    code_digest="c" * 64,
    inputs={"a": 1, "when": {"$datetime": "2026-01-01T00:00:00+00:00"}},
    phase=ExecutionPhase.FAILED,
    created_at=1.5,
    updated_at=2.5,
    started_at=3.5,
    finished_at=4.5,
    outputs={"o0": {"$ref": {"uri": "file:///x", "sha256": "a" * 64, "size": 3, "format": "json"}}},
    error=ERROR,
    abort_reason="stop",
    source_id="ex-src",
    mode=ExecutionMode.RECOVER,
    config=ExecutionConfig(max_parallelism=3, executor="ray", overwrite_cache=True),
    version=7,
    lease_owner="controller-1",
    lease_expires_at=9.5,
)
NODE = NodeRecord(
    execution_id="ex-full",
    node_id="train",
    phase=NodePhase.FAILED,
    attempt=2,
    user_failures=1,
    system_failures=1,
    inputs={"x": [1, 2]},
    outputs={"y": {"$float": "nan"}},
    error=ERROR,
    started_at=1.0,
    finished_at=2.0,
    retry_at=3.0,
    cache_status=CacheStatus.MISS,
    detail={"expanded": "d" * 64},
    version=4,
)
ATTEMPT = AttemptRecord(
    "ex-full", "train", 2, AttemptPhase.FAILED, "local", 1.0, 2.0, 3.0, ERROR, AbortReason.TIMEOUT, 5
)
EVENT = Event("ex-full", 1.25, EventKind.NODE, "FAILED", "train", 2, "it failed", 42)
ENTRY = CatalogEntry("team", "t", "k" * 64, {"code": "c"}, {"o0": 1}, "ex-full", "train", 2, 8.0)
LINEAGE = LineageRow("ex-full", "train", LineageDirection.OUT, "o0", "h" * 64)
ENTITY = RegisteredEntity("workflow", "team", "pipeline", "v1", "d" * 64, "s" * 64, "c" * 64, {"k": [1]}, 3.0, 9)
VIEW = NodeView("train", "train_task", ("prep", "load"), NODE, (ATTEMPT, dataclasses.replace(ATTEMPT, number=1)))
TREE = LineageNode(
    "ex-full",
    "train",
    "t",
    "SUCCEEDED",
    1,
    "HIT",
    {"execution": "ex-0"},
    {"o0": "h"},
    [
        Source(
            "x", "h2", "node", "prep", "o0", None, [LineageNode("ex-full", "prep", "p", "SUCCEEDED", 1, None, None, {})]
        )
    ],
    repeated=True,
)

# Every record the wire carries, each with every field set to something other than its default.
RECORDS: list[Any] = [
    EXECUTION, NODE, ATTEMPT, EVENT, ENTRY, LINEAGE, ENTITY, VIEW, TREE, ERROR, EXECUTION.config,
    PlanItem("train", "run", "it failed"), Consumer("h" * 64, "ex-2", "n", "x", 1),
]  # fmt: skip


def _expected(record: Any, forms: Forms) -> Any:
    """What decoding the record's JSON must give back: omitted fields at their default or fill."""
    form = forms.form(type(record))
    changes = {}
    for f in dataclasses.fields(record):
        if f.name in form.omit:
            if f.name in form.fill:
                changes[f.name] = form.fill[f.name]()
            elif f.default is not dataclasses.MISSING:
                changes[f.name] = f.default
            elif f.default_factory is not dataclasses.MISSING:
                changes[f.name] = f.default_factory()
    expected = dataclasses.replace(record, **changes) if changes else record
    if isinstance(record, NodeView):  # its record and attempts travel in their own wire forms
        expected = dataclasses.replace(
            expected,
            record=_expected(record.record, forms),
            attempts=tuple(_expected(a, forms) for a in record.attempts),
        )
    return expected


def test_every_record_field_is_set_in_the_samples() -> None:
    for record in RECORDS:
        for f in dataclasses.fields(record):
            default = f.default if f.default is not dataclasses.MISSING else None
            if f.default_factory is not dataclasses.MISSING:
                default = f.default_factory()
            assert getattr(record, f.name) != default or f.name == "seq", (type(record).__name__, f.name)


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: type(r).__name__)
def test_wire_round_trip_keeps_every_field(record: Any) -> None:
    data = to_wire(record)
    given = {"execution_id": record.execution_id} if isinstance(record, Event) else {}
    assert from_wire(type(record), data, **given) == _expected(record, FORMS)
    form = FORMS.form(type(record))
    keys = {f.key for f in FORMS.fields(type(record))}
    assert set(data) == keys
    assert not keys & set(form.omit) - set(form.rename.values())


@pytest.mark.parametrize("record", [EXECUTION, NODE, ATTEMPT, ENTRY, LINEAGE], ids=lambda r: type(r).__name__)
def test_store_rows_round_trip_every_field(record: Any) -> None:
    codecs: dict[type, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
        ExecutionRecord: (codec.execution_to_row, codec.execution_from_row),
        NodeRecord: (codec.node_to_row, codec.node_from_row),
        AttemptRecord: (codec.attempt_to_row, codec.attempt_from_row),
        CatalogEntry: (codec.catalog_entry_to_row, codec.catalog_entry_from_row),
        LineageRow: (codec.lineage_to_row, codec.lineage_from_row),
    }
    to_row = codecs[type(record)]
    row = to_row[0](record)
    assert set(row) == {f.name for f in dataclasses.fields(record)}, "a row has a column per field"
    assert all(v is None or isinstance(v, (str, int, float)) for v in row.values()), "columns hold plain values"
    assert to_row[1](row) == record


def test_event_rows_leave_the_sequence_to_the_store() -> None:
    row = codec.event_to_row(EVENT)
    assert "seq" not in row
    assert codec.event_from_row({**row, "seq": EVENT.seq}) == EVENT


def test_the_wire_shows_enums_as_values_and_keeps_literals_intact() -> None:
    data = to_wire(EXECUTION)
    assert data["phase"] == "FAILED" and data["error"]["kind"] == "SYSTEM"
    assert data["inputs"] == EXECUTION.inputs, "literals travel as stored"
    assert plain(data)["inputs"] == {"a": 1, "when": "2026-01-01T00:00:00+00:00"}
    assert "lease_owner" not in data and "version" not in data


class Colour(enum.Enum):
    RED = "red"


@dataclasses.dataclass(frozen=True)
class Grown:
    """A record as another change might grow one: an enum, a nested record, a tuple, literal JSON."""

    id: str
    colour: Colour
    error: ErrorInfo | None
    tags: tuple[str, ...] = ()
    extra: dict[str, Any] | None = None


def test_a_new_field_needs_no_edit_in_the_codec() -> None:
    """A record grown by typed fields round-trips through the wire and the rows with no special case."""
    grown = Grown("g", Colour.RED, ERROR, ("a", "b"), {"k": {"$bytes": "AA=="}})
    assert Forms().decode(Grown, Forms().encode(grown)) == grown
    row = {k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in ROWS.encode(grown).items()}
    assert ROWS.decode(Grown, row) == grown
    assert Forms({Grown: Form(rename={"colour": "color"})}).encode(grown)["color"] == "red"


def test_missing_keys_take_the_field_default() -> None:
    """An older server or client that does not send a newer field still decodes."""
    data = to_wire(NODE)
    del data["detail"], data["retry_at"]
    assert from_wire(NodeRecord, data) == _expected(dataclasses.replace(NODE, detail=None, retry_at=None), FORMS)


# -- the API's schema is generated from the same forms ------------------------------------------------

SCHEMA_NAMES = {
    ExecutionRecord: "Execution",
    NodeView: "Node",
    AttemptRecord: "Attempt",
    Event: "Event",
    CatalogEntry: "CatalogEntry",
    RegisteredEntity: "Entity",
    LineageRow: "LineageEdge",
    ErrorInfo: "ErrorInfo",
    PlanItem: "PlanItem",
    Consumer: "Consumer",
}


def _wire_keys(cls: type) -> set[str]:
    """The record's fields as its form shows them, worked out here from the dataclass (not from FORMS.fields)."""
    form = FORMS.form(cls)
    keys: set[str] = set()
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in form.omit:
            continue
        if f.name == form.flatten:
            keys |= _wire_keys(hints[f.name])
        else:
            keys.add(form.rename.get(f.name, f.name))
    return keys | {form.rename.get(n, n) for n in form.computed}


def test_openapi_properties_of_each_record_are_its_fields() -> None:
    from fastapi.testclient import TestClient

    from setpoint.server.app import create_app

    class NoClient:
        store = blobs = bundles = settings = clock = None

    app = create_app(NoClient(), auth=False)  # type: ignore[arg-type]
    schemas = TestClient(app).get("/openapi.json").json()["components"]["schemas"]
    for cls, name in SCHEMA_NAMES.items():
        props = set(schemas[name]["properties"])
        assert props == _wire_keys(cls), name
        assert set(schemas[name]["required"]) == props, f"{name}: every key is always present"
    assert schemas["Execution"]["properties"]["phase"] == {"$ref": "#/components/schemas/ExecutionPhase"}
    assert set(schemas["ExecutionPhase"]["enum"]) == {p.value for p in ExecutionPhase}
