"""Interfaces and promises as flytekit code uses them, run for real: in-process and through `setpoint run`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from setpoint.client.embedded import Client
from setpoint.core.phases import ExecutionPhase, NodePhase
from tests.e2e import wf_flyte_promises as wp
from tests.e2e.cli_util import setpoint, setpoint_json

pytestmark = pytest.mark.timeout(120)

WF = "tests/e2e/wf_flyte_promises.py"


# -- attribute and index access ------------------------------------------------------------------


def test_fields_named_like_promise_attributes_resolve_to_the_users_fields(client: Client) -> None:
    rec = client.run(wp.name_field, {"x": 5}, timeout=60)
    assert rec.phase is ExecutionPhase.SUCCEEDED
    assert client.outputs(rec.id) == {"o0": "rec-5"}  # was "o0": the promise's own attribute


def test_nested_attributes_and_indexing_resolve_when_the_values_exist(client: Client) -> None:
    rec = client.run(wp.fields, {"x": 3}, timeout=60)
    assert rec.phase is ExecutionPhase.SUCCEEDED, rec.error
    assert client.outputs(rec.id) == {"o0": "rec-3|3|1.5;kind-a|30|1.5;second"}
    # the consuming node received only the part it asked for
    nodes = {n.node_id: n for n in client.nodes(rec.id)}
    assert nodes["join"].record.inputs == {"s": "rec-3", "n": 3, "f": 1.5}


def test_a_key_missing_at_run_time_fails_the_consuming_node_with_the_reason(client: Client) -> None:
    rec = client.run(wp.missing_key, timeout=60)
    assert rec.phase is ExecutionPhase.FAILED
    assert rec.error is not None and rec.error.code == "BadInputPath" and rec.error.node == "double"
    assert "has no key or field 'b'" in rec.error.message


# -- interfaces ------------------------------------------------------------------------------------


def test_tuple_outputs_no_annotation_iterators_and_ordering(client: Client, tmp_path: Path) -> None:
    path = str(tmp_path / "side.txt")
    rec = client.run(wp.interfaces, {"x": 2, "path": path}, timeout=60)
    assert rec.phase is ExecutionPhase.SUCCEEDED, rec.error
    # pair_typing(2) = (3, "s2"); pair_bare(3) = (9, "bare"); sum(range(9)) = 36; double(3) = 6
    assert client.outputs(rec.id) == {"o0": 36, "o1": "s2", "o2": 6, "o3": "ran\n"}
    spec = wp.interfaces.compile()
    assert [n for n, _ in spec.tasks[wp.pair_bare.name].interface.outputs] == ["o0", "o1"]
    assert spec.tasks[wp.side_effect.name].interface.outputs == ()


def test_json_like_lists_and_dicts_and_non_str_keys(client: Client) -> None:
    rec = client.run(wp.json_values, timeout=60)
    assert client.outputs(rec.id) == {"o0": [3, [True, None], {"three": 3.5}]}
    assert client.outputs(rec.id, wp.json_values) == {"o0": [3, [True, None], {"three": 3.5}]}
    rec = client.run(wp.keyed_values, timeout=60)
    assert client.outputs(rec.id, wp.keyed_values) == {"o0": {10: "ONE", 20: "TWO"}}


def test_named_tuple_fields_named_count_and_index_are_outputs(client: Client) -> None:
    spec = wp.named_fields.compile()
    assert [b.path for _, b in spec.node_map["concat"].inputs] == [(), (), ()]
    assert dict(spec.node_map["concat"].inputs)["b"].output == "index"
    assert dict(spec.node_map["str_of"].inputs)["n"].output == "count"


def test_named_tuple_fields_out_of_alphabetical_order_run(client: Client) -> None:
    rec = client.run(wp.named_fields, {"x": 4}, timeout=60)
    assert rec.phase is ExecutionPhase.SUCCEEDED, rec.error
    assert client.outputs(rec.id) == {"o0": "a4;i;5"}


def test_a_one_field_named_tuple_returned_bare(client: Client) -> None:
    rec = client.run(wp.one_field_bare, {"x": 7}, timeout=60)
    assert rec.phase is ExecutionPhase.SUCCEEDED, rec.error
    assert client.outputs(rec.id) == {"o0": 7}


# -- conditions, ordering, nodes, overrides ----------------------------------------------------------


@pytest.mark.parametrize(("x", "out"), [(20, "big"), (3, "small")])
def test_is_true_and_is_false_pick_the_case(client: Client, x: int, out: str) -> None:
    rec = client.run(wp.truthy, {"x": x}, timeout=60)
    assert client.outputs(rec.id) == {"o0": out}


@pytest.mark.parametrize(
    ("wf", "inputs", "out"),
    [
        (wp.calls_compares, {"x": 11}, "above"),  # the subworkflow's limit is its default, 10
        (wp.calls_compares, {"x": 10}, "at or below"),
        (wp.calls_compares_const, {}, "above"),  # both operands bound to constants
    ],
)
def test_a_subworkflow_comparing_inputs_bound_to_constants(
    client: Client, wf: object, inputs: dict[str, int], out: str
) -> None:
    rec = client.run(wf, inputs, timeout=60)  # type: ignore[arg-type]
    assert rec.phase is ExecutionPhase.SUCCEEDED, rec.error
    assert client.outputs(rec.id) == {"o0": out}


def test_ordering_a_subworkflow_and_create_node(client: Client, tmp_path: Path) -> None:
    path = str(tmp_path / "order.txt")
    rec = client.run(wp.ordered, {"path": path}, timeout=60)
    assert rec.phase is ExecutionPhase.SUCCEEDED, rec.error
    assert client.outputs(rec.id) == {"o0": "ab"}  # the subworkflow's write came first


def test_with_overrides_retries_and_node_name(client: Client, tmp_path: Path) -> None:
    rec = client.run(wp.overridden, {"marker": str(tmp_path / "m")}, timeout=60)
    assert rec.phase is ExecutionPhase.SUCCEEDED, rec.error
    nodes = {n.node_id: n for n in client.nodes(rec.id)}
    assert set(nodes) == {"steady"}
    assert nodes["steady"].phase is NodePhase.SUCCEEDED and len(nodes["steady"].attempts) == 2


# -- through the CLI ---------------------------------------------------------------------------------


@pytest.mark.remote
def test_cli_runs_attribute_access_and_tuple_outputs(home: Path, tmp_path: Path) -> None:
    out = setpoint_json(home, "run", f"{WF}:fields", "--x", "4")
    assert out["execution"]["outputs"] == {"o0": "rec-4|4|2.0;kind-a|40|2.0;second"}
    out = setpoint_json(home, "run", f"{WF}:interfaces", "--x", "1", "--path", str(tmp_path / "f"))
    # pair_typing(1) = (2, "s1"); pair_bare(2) = (6, ...); sum(range(6)) = 15; double(2) = 4
    assert out["execution"]["outputs"] == {"o0": 15, "o1": "s1", "o2": 4, "o3": "ran\n"}


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("broken_shift", "error: workflow 'broken_shift', line "),
        ("broken_keyword", "error: workflow 'broken_keyword', node 'double': got an unexpected keyword argument 'y'"),
        ("broken_is_true", "is_true() needs a bool"),
        ("broken_fstring", "cannot be used in string formatting"),
        ("broken_field", "has no field 'nmae' (fields: name, type, node_id, binding, meta)"),
    ],
)
def test_cli_compile_mistakes_are_one_error_line(home: Path, target: str, message: str) -> None:
    proc = setpoint(home, "run", f"{WF}:{target}")
    assert proc.returncode != 0
    assert message in " ".join(proc.stderr.split()), proc.stderr
    assert "Traceback" not in proc.stderr


def test_cli_json_output_keeps_non_ascii_text(home: Path) -> None:
    out = setpoint_json(home, "run", f"{WF}:non_ascii")
    assert out["execution"]["outputs"] == {"o0": "héllo 😀 ünïcode"}


def test_cli_prints_non_ascii_outputs_as_themselves(home: Path) -> None:
    proc = setpoint(home, "run", f"{WF}:non_ascii", env={"PYTHONIOENCODING": "utf-8"})
    assert proc.returncode == 0, proc.stderr
    assert 'o0 = "héllo 😀 ünïcode"' in proc.stdout
    assert "\\ud83d" not in proc.stdout and json.dumps("😀") not in proc.stdout


# -- paths through subworkflows and dynamic sub-DAGs ----------------------------------------------------


def test_paths_survive_subworkflow_inlining_and_dynamic_grafting(client: Client) -> None:
    rec = client.run(wp.through_subworkflow, {"x": 6}, timeout=60)
    assert rec.phase is ExecutionPhase.SUCCEEDED, rec.error
    assert client.outputs(rec.id) == {"o0": "rec-6;kind-a;60"}
    rec = client.run(wp.through_dynamic, {"n": 3}, timeout=60)
    assert rec.phase is ExecutionPhase.SUCCEEDED, rec.error
    assert client.outputs(rec.id) == {"o0": ["rec-0", "rec-1", "rec-2"]}


@pytest.mark.parametrize(
    ("target", "args", "outputs"),
    [
        ("truthy", ["--x", "3"], {"o0": "small"}),
        ("calls_compares", ["--x", "12"], {"o0": "above"}),
        ("keyed_values", [], {"o0": {"10": "ONE", "20": "TWO"}}),  # JSON keys are text
        ("json_values", [], {"o0": [3, [True, None], {"three": 3.5}]}),
        ("through_dynamic", ["--n", "2"], {"o0": ["rec-0", "rec-1"]}),
        ("through_subworkflow", ["--x", "2"], {"o0": "rec-2;kind-a;20"}),
    ],
)
def test_cli_runs_conditions_keyed_dicts_and_paths_through_sub_dags(
    home: Path, target: str, args: list[str], outputs: dict[str, object]
) -> None:
    out = setpoint_json(home, "run", f"{WF}:{target}", *args)
    assert out["execution"]["phase"] == "SUCCEEDED"
    assert out["execution"]["outputs"] == outputs


def test_cli_runs_ordering_create_node_and_overrides(home: Path, tmp_path: Path) -> None:
    out = setpoint_json(home, "run", f"{WF}:ordered", "--path", str(tmp_path / "o.txt"))
    assert out["execution"]["outputs"] == {"o0": "ab"}
    out = setpoint_json(home, "run", f"{WF}:overridden", "--marker", str(tmp_path / "m"))
    assert out["execution"]["outputs"] == {"o0": 1}
    assert [(n["node_id"], n["attempts"]) for n in out["nodes"]] == [("steady", 2)]


@pytest.mark.remote
def test_cli_a_missing_key_fails_the_run_naming_the_node_and_step(home: Path) -> None:
    proc = setpoint(home, "run", f"{WF}:missing_key")
    assert proc.returncode == 1, proc.stderr
    text = " ".join((proc.stdout + proc.stderr).split())
    assert "BadInputPath at node 'double'" in text and "has no key or field 'b'" in text


def test_cli_takes_json_like_and_int_keyed_inputs(home: Path) -> None:
    out = setpoint_json(
        home,
        "run",
        f"{WF}:json_inputs",
        "--items",
        '[1, "a", {"b": null}]',
        "--mapping",
        "{}",
        "--keys",
        '{"1": "one", "5": "five"}',
    )
    assert out["execution"]["outputs"] == {"o0": [3, {"10": "ONE", "50": "FIVE"}, {"b": None}]}


def test_json_like_and_int_keyed_inputs_in_process(client: Client) -> None:
    inputs = {"items": [{"$x": 1}], "mapping": {}, "keys": {2: "two"}}
    rec = client.run(wp.json_inputs, inputs, timeout=60)
    assert rec.phase is ExecutionPhase.SUCCEEDED, rec.error
    assert client.outputs(rec.id, wp.json_inputs) == {"o0": [1, {"20": "TWO"}, {"$x": 1}]}  # JSON: text keys


@pytest.mark.parametrize(("first", "out"), [(9, "in;rec-9;big"), (2, "kind-in;rec-2;small")])
def test_parts_of_workflow_inputs_and_conditions_on_parts(client: Client, first: int, out: str) -> None:
    r = wp.Record(name="in", type="kind-in", node_id=0, binding=[first], meta={})
    rec = client.run(wp.input_parts, {"r": r}, timeout=60)
    assert rec.phase is ExecutionPhase.SUCCEEDED, rec.error
    assert client.outputs(rec.id) == {"o0": out}


@pytest.mark.remote
def test_cli_parts_of_a_workflow_input(home: Path) -> None:
    r = {"name": "in", "type": "kind-in", "node_id": 0, "binding": [7], "meta": {}}
    out = setpoint_json(home, "run", f"{WF}:input_parts", "--r", json.dumps(r))
    assert out["execution"]["outputs"] == {"o0": "in;rec-7;big"}


def test_a_workflow_output_path_missing_at_run_time_fails_the_execution(client: Client) -> None:
    rec = client.run(wp.missing_output_key, timeout=60)
    assert rec.phase is ExecutionPhase.FAILED
    assert rec.error is not None and rec.error.code == "BadOutputPath"
    assert "a workflow output could not be resolved" in rec.error.message and "'b'" in rec.error.message


def test_a_branch_operand_missing_at_run_time_fails_the_branch_node(client: Client) -> None:
    rec = client.run(wp.branch_on_missing_key, timeout=60)
    assert rec.phase is ExecutionPhase.FAILED
    assert rec.error is not None and (rec.error.code, rec.error.node) == ("BadInputPath", "on_b")
    phases = {n.node_id: n.phase for n in client.nodes(rec.id)}
    assert phases["on_b"] is NodePhase.FAILED and phases["show"] is not NodePhase.SUCCEEDED
