"""Node kinds and their typed configs: parsed once, validated, and written back byte for byte."""

from __future__ import annotations

import pytest

from setpoint.errors import SpecError
from setpoint.spec.branch import Otherwise
from setpoint.spec.canonical import canonical_json
from setpoint.spec.types import TypeKind, TypeRef
from setpoint.spec.workflow import (
    ApproveGate,
    BranchConfig,
    GateKind,
    LaunchPlanConfig,
    MapConfig,
    NodeKind,
    NodeSpec,
    SignalGate,
    SleepGate,
    WorkflowSpec,
)
from tests.unit.spec.test_spec_digest import pipeline


def test_a_compiled_spec_reads_back_into_the_same_typed_configs() -> None:
    spec = pipeline.compile()
    again = WorkflowSpec.from_json(spec.to_json())
    assert again.nodes == spec.nodes  # the typed configs compare equal; the kept JSON does not count
    kinds = {n.id: (n.kind, type(n.config)) for n in again.nodes}
    assert kinds["scale-map"] == (NodeKind.MAP, MapConfig)
    assert kinds["pick"] == (NodeKind.BRANCH, BranchConfig)
    assert kinds["sleep"] == (NodeKind.GATE, SleepGate)
    assert kinds["hi_ok"] == (NodeKind.GATE, ApproveGate)
    assert kinds["threshold"] == (NodeKind.GATE, SignalGate)
    assert kinds["digest_pin_child"] == (NodeKind.LAUNCHPLAN, LaunchPlanConfig)
    assert kinds["load"] == (NodeKind.TASK, type(None))
    m = again.node_map["scale-map"].config
    assert isinstance(m, MapConfig) and (m.over, m.concurrency, m.min_success_ratio) == (("x",), 2, 0.5)
    s = again.node_map["threshold"].config
    assert isinstance(s, SignalGate) and s.type == TypeRef(TypeKind.FLOAT) and s.timeout_s == 600.0
    assert again.node_map["threshold"].signal_gate == s and again.node_map["sleep"].signal_gate is None


def _node_json(config: dict[str, object], kind: str = "gate") -> dict[str, object]:
    return {"id": "g", "kind": kind, "task": "", "inputs": {}, "config": config}


def test_a_hand_written_config_keeps_its_bytes() -> None:
    # The compiler writes 5.0 and every key; a document may write 5 and leave keys out.
    cases: list[tuple[str, dict[str, object]]] = [
        ("gate", {"gate": "sleep", "seconds": 5}),
        ("map", {"over": ["x"]}),
        ("branch", {"conditions": [{"op": "true"}], "otherwise": "fail"}),
    ]
    for kind, config in cases:
        doc = _node_json(config, kind)
        node = NodeSpec.from_json(doc, "nodes[0]")
        assert canonical_json(node.to_json()) == canonical_json(doc)
    sleep = NodeSpec.from_json(_node_json({"gate": "sleep", "seconds": 5}), "nodes[0]").config
    assert isinstance(sleep, SleepGate) and sleep.seconds == 5.0 and sleep.gate is GateKind.SLEEP
    m = NodeSpec.from_json(_node_json({"over": ["x"]}, "map"), "nodes[0]").config
    assert m == MapConfig(("x",), 0, 1.0)


@pytest.mark.parametrize(
    ("kind", "config", "message"),
    [
        ("gate", {"gate": "nap"}, "a gate is one of sleep, approve, signal, got 'nap'"),
        ("gate", {"gate": "sleep", "seconds": -1}, "sleep needs a non-negative number of seconds"),
        ("gate", {"gate": "sleep", "seconds": True}, "sleep needs a non-negative number of seconds"),
        ("gate", {"gate": "approve", "name": "ok", "timeout_s": 0}, "timeout_s must be a positive number"),
        ("gate", {"gate": "signal", "name": "../x", "type": {"kind": "int"}}, "invalid signal name"),
        ("gate", {"gate": "signal", "name": "x", "type": {"kind": "tensor"}}, "unknown type kind"),
        ("map", {"over": []}, "needs the inputs it maps over"),
        ("map", {"over": ["x"], "concurrency": -1}, "concurrency must be a non-negative integer"),
        ("map", {"over": ["x"], "min_success_ratio": 0}, r"min_success_ratio must be in \(0, 1\]"),
        ("branch", {"conditions": []}, "a branch needs at least one condition"),
        ("branch", {"conditions": [{"op": "true"}], "otherwise": "maybe"}, "'otherwise' must be 'fail' or 'none'"),
        ("launchplan", {"launchplan": "p"}, "needs the child workflow's spec"),
    ],
)
def test_a_bad_config_is_refused_naming_the_node(kind: str, config: dict[str, object], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        NodeSpec.from_json(_node_json(config, kind), "nodes[0]", workflow="wf")


def test_a_config_dict_and_a_kind_string_are_read_into_their_types() -> None:
    node = NodeSpec("g", "", kind="gate", config={"gate": "approve", "name": "ok"})  # type: ignore[arg-type]
    assert node.kind is NodeKind.GATE and node.config == ApproveGate("ok")
    with pytest.raises(SpecError, match="unknown node kind 'loop'"):
        NodeSpec("g", "", kind="loop")  # type: ignore[arg-type]
    with pytest.raises(SpecError, match="a map node cannot have a SleepGate config"):
        NodeSpec("g", "t", kind=NodeKind.MAP, config=SleepGate(1.0))


def test_configs_still_read_like_their_json() -> None:
    # Code that read configs as dicts keeps working while it moves to the attributes.
    config = BranchConfig(({"op": "true"},), Otherwise.FAIL)
    assert config["otherwise"] == "fail"
    assert config.get("message") == ""
    assert dict(config)["conditions"] == [{"op": "true"}]
