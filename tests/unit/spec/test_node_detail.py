"""`NodeDetail`: the typed form of `NodeRecord.detail`; rows written before it existed read and write back the same."""

from __future__ import annotations

from typing import Any

import pytest

from setpoint.core.model import NodeDetail, NodeRecord
from setpoint.core.phases import NodePhase

ROWS_AS_WRITTEN: list[dict[str, Any]] = [
    {"cache": {"key": "ab", "components": {"task": "t"}, "serialize": False}},
    {
        "cache": {"key": "ab", "components": {}, "serialize": True, "source": {"execution": "e", "node": "n"}},
        "provenance": {"execution": "e", "node": "n", "attempt": 1, "inputs": {}},
    },
    {"gate": "sleep", "signal": None},
    {"gate": "approve", "signal": "ok"},
    {"not_taken": True},
    {"expanded": "f00d", "size": 3},
    {"child": "c0123456789a"},
    {"provenance": {"execution": "e"}, "recovered_from": {"execution": "e", "node": "n", "attempt": 2}},
    {"child": "c1", "written_by_a_newer_version": [1, 2]},
]


@pytest.mark.parametrize("stored", ROWS_AS_WRITTEN)
def test_a_stored_detail_reads_and_writes_back_unchanged(stored: dict[str, Any]) -> None:
    assert NodeDetail.from_json(stored).to_json() == stored


def test_a_record_reads_its_detail_typed() -> None:
    rec = NodeRecord("ex-1", "fan", NodePhase.RUNNING, detail={"expanded": "f00d", "size": 3})
    assert rec.typed_detail == NodeDetail(expanded="f00d", size=3)
    assert NodeRecord("ex-1", "a", NodePhase.PENDING).typed_detail == NodeDetail()
    skipped = NodeRecord("ex-1", "b", NodePhase.SKIPPED, detail=NodeDetail(not_taken=True).to_json())
    assert skipped.typed_detail.not_taken and skipped.detail == {"not_taken": True}
    kept = NodeDetail.from_json({"child": "c1", "later": 1}).evolve(expanded="x").to_json()
    assert kept == {"expanded": "x", "child": "c1", "later": 1}
