"""Specs loaded from JSON: malformed documents, cycles, unknown nodes, duplicates, hostile names."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from setpoint.errors import SpecError, TypeMismatchError
from setpoint.spec.types import INT, STR, TypeKind, TypeRef, is_assignable
from setpoint.spec.workflow import WorkflowSpec, find_cycle
from tests.support.specs import dag_spec


def base_doc() -> dict[str, Any]:
    return copy.deepcopy(dag_spec({"a": [], "b": ["a"], "c": ["b"]}).to_json())


def load(doc: Any) -> WorkflowSpec:
    return WorkflowSpec.from_json(doc)


def test_valid_document_loads() -> None:
    spec = load(base_doc())
    assert [n.id for n in spec.nodes] == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: "not a spec", "workflow spec: expected a JSON object"),
        (lambda d: {**d, "schema": 99}, "unsupported schema version 99"),
        (lambda d: {**d, "name": "../etc/passwd"}, "invalid workflow name '../etc/passwd'"),
        (lambda d: {**d, "nodes": {"a": 1}}, "'nodes' must be an array"),
        (lambda d: {**d, "max_parallelism": -3}, "max_parallelism must be a non-negative integer"),
        (lambda d: {**d, "failure_policy": "maybe"}, "failure_policy must be one of"),
    ],
)
def test_malformed_documents(mutate: Callable[[dict[str, Any]], dict[str, Any]], message: str) -> None:
    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load(mutate(base_doc()))


def test_cycle_is_named() -> None:
    doc = base_doc()
    doc["nodes"][0]["after"] = ["c"]  # a after c, while c depends on b on a
    with pytest.raises(
        SpecError, match=r"workflow 'wf': cycle between nodes (a -> b -> c -> a|c -> a -> b -> c|b -> c -> a -> b)"
    ):
        load(doc)


def test_self_loop_is_a_cycle() -> None:
    doc = base_doc()
    doc["nodes"][1]["inputs"]["x0"] = {"node": "b", "output": "o0"}
    with pytest.raises(SpecError, match=r"cycle between nodes b -> b"):
        load(doc)


def test_unknown_node_in_a_binding() -> None:
    doc = base_doc()
    doc["nodes"][2]["inputs"]["x0"] = {"node": "zzz", "output": "o0"}
    with pytest.raises(SpecError, match=r"workflow 'wf', node 'c', input 'x0': unknown node 'zzz'"):
        load(doc)


def test_unknown_output_of_a_node() -> None:
    doc = base_doc()
    doc["nodes"][2]["inputs"]["x0"] = {"node": "b", "output": "o7"}
    with pytest.raises(SpecError, match=r"node 'b' has no output 'o7' \(outputs: o0\)"):
        load(doc)


def test_duplicate_node_ids() -> None:
    doc = base_doc()
    doc["nodes"][2]["id"] = "b"
    with pytest.raises(SpecError, match=r"duplicate node id 'b'"):
        load(doc)


def test_unknown_task() -> None:
    doc = base_doc()
    doc["nodes"][0]["task"] = "nope.task"
    with pytest.raises(SpecError, match=r"node 'a': unknown task 'nope.task'"):
        load(doc)


def test_unknown_and_missing_inputs() -> None:
    doc = base_doc()
    doc["nodes"][1]["inputs"]["bogus"] = {"literal": 1}
    with pytest.raises(SpecError, match=r"node 'b': unknown input 'bogus'"):
        load(doc)
    doc = base_doc()
    del doc["nodes"][1]["inputs"]["x0"]
    with pytest.raises(SpecError, match=r"node 'b': missing input 'x0' \(int\)"):
        load(doc)


def test_type_mismatch_in_a_loaded_spec() -> None:
    doc = base_doc()
    doc["interface"]["inputs"]["label"] = {"type": {"kind": "str"}}
    doc["nodes"][0]["inputs"]["base"] = {"input": "label"}
    with pytest.raises(TypeMismatchError, match=r"node 'a', input 'base': expected int, got str"):
        load(doc)


@pytest.mark.parametrize("hostile", ["../../x", "a/b", "a b", "", "x" * 200, "a;DROP TABLE", "\u202ex"])
def test_hostile_node_ids_are_rejected(hostile: str) -> None:
    doc = base_doc()
    doc["nodes"][0]["id"] = hostile
    with pytest.raises(SpecError, match="invalid node id"):
        load(doc)


def test_hostile_module_name_in_a_task() -> None:
    doc = base_doc()
    task = next(iter(doc["tasks"].values()))
    task["module"] = "os; import shutil"
    with pytest.raises(SpecError, match="invalid module"):
        load(doc)


def test_unknown_type_kind() -> None:
    doc = base_doc()
    doc["interface"]["inputs"]["x"]["type"] = {"kind": "tensor"}
    with pytest.raises(SpecError, match="unknown type kind 'tensor'"):
        load(doc)


def test_find_cycle_none_for_a_dag() -> None:
    assert find_cycle(dag_spec({"a": [], "b": ["a"], "c": ["a", "b"]})) is None


def test_assignability_rules() -> None:
    f = TypeRef(TypeKind.FLOAT)
    assert is_assignable(INT, f)
    assert not is_assignable(f, INT)
    assert is_assignable(INT, TypeRef.optional(INT))
    assert not is_assignable(TypeRef.optional(INT), INT)
    assert is_assignable(TypeRef.list_of(INT), TypeRef.list_of(f))
    assert not is_assignable(TypeRef.list_of(STR), TypeRef.list_of(INT))
    assert str(TypeRef.dict_of(TypeRef.optional(STR))) == "dict[str, Optional[str]]"
