"""Workflows as flytekit writes them, compiled and called in-process (no store, no controller)."""

from __future__ import annotations

import typing
import warnings
from pathlib import Path

import pytest

from setpoint.errors import NonRetryableError, SpecError, TypeMismatchError
from setpoint.sdk.conditional import BranchFailed
from setpoint.sdk.eager import Journal, eager
from setpoint.sdk.gates import GateWarning, approve, wait_for_input
from setpoint.sdk.imperative import ImperativeWorkflow
from setpoint.sdk.task import task
from setpoint.sdk.workflow import WorkflowFailurePolicy, create_node, workflow
from setpoint.spec.types import TypeKind
from setpoint.spec.workflow import FailurePolicy, NodeKind, SignalGate, WorkflowSpec
from tests.e2e import wf_flyte_workflows as fw

# -- failure policies -----------------------------------------------------------------------------------


def test_flytekit_failure_policies_map_onto_setpoints() -> None:
    assert fw.keep_going.compile().failure_policy is FailurePolicy.FINISH_RUNNABLE
    assert fw.stop_at_once.compile().failure_policy is FailurePolicy.FAIL_FAST
    assert (
        WorkflowFailurePolicy.FAIL_IMMEDIATELY.value == FailurePolicy.FAIL_FAST.value
    )  # the JSON form, either name accepted


def test_an_unknown_failure_policy_names_both_spellings() -> None:
    with pytest.raises(SpecError, match=r"WorkflowFailurePolicy\.FAIL_AFTER_EXECUTABLE_NODES_COMPLETE"):

        @workflow(failure_policy="keep_calm")
        def wf() -> None: ...


# -- on_failure -------------------------------------------------------------------------------------------


def test_on_failure_err_is_checked_and_survives_the_json_round_trip() -> None:
    spec = fw.guarded.compile()
    assert spec.on_failure == fw.clean_up.name
    assert WorkflowSpec.from_json(spec.to_json()) == spec
    err = spec.tasks[fw.clean_up.name].interface.input_map["err"].type
    assert err.kind is TypeKind.UNION  # Optional[WorkflowError]


@task
def wrong_err(err: int) -> None: ...


def test_an_err_parameter_of_another_type_is_a_compile_error() -> None:
    @workflow(on_failure=wrong_err)
    def wf(x: int) -> int:
        return typing.cast(int, fw.boom(x=x))

    with pytest.raises(TypeMismatchError, match=r"input 'err' receives the error: declare it str or WorkflowError"):
        wf.compile()


def test_on_failure_may_be_a_workflow_run_as_one_handler_task() -> None:
    spec = fw.guarded_by_flow.compile()
    handler = spec.tasks[spec.on_failure or ""]
    assert handler.qualname == "clean_up_flow.failure_handler"
    assert [n for n, _ in handler.interface.inputs] == ["report", "err"] and handler.interface.outputs == ()
    with pytest.raises(SpecError, match="on_failure must be a @task or a @workflow, got int"):

        @workflow(on_failure=3)
        def wf() -> None: ...


def test_a_subworkflow_with_its_own_handler_runs_as_a_child_execution_that_keeps_it() -> None:
    spec = fw.outer_of_guarded.compile()
    node = spec.node_map["inner_guarded"]
    assert node.kind is NodeKind.LAUNCHPLAN
    child = spec.launchplans["inner_guarded"]
    assert child.on_failure == fw.clean_up_text.name
    assert spec.on_failure is None


# -- gates --------------------------------------------------------------------------------------------------


def test_gates_take_flytekits_keywords_and_a_dataclass_with_a_type_field() -> None:
    spec = fw.reviewed.compile()
    gate = spec.node_map["factor"].config
    assert isinstance(gate, SignalGate) and gate.type.kind is TypeKind.INT and gate.timeout_s == 120
    assert spec.node_outputs(spec.node_map["model_ok"])["o0"].kind is TypeKind.STRUCT


@pytest.mark.parametrize(
    "call",
    [
        lambda: wait_for_input("v", 30.0, int),  # flytekit's positional order
        lambda: wait_for_input("v", int, timeout=30.0),  # setpoint's
        lambda: wait_for_input("v", int, 30.0),
        lambda: wait_for_input("v", type=int, timeout=30.0),
    ],
)
def test_wait_for_input_spellings(call: typing.Callable[[], object]) -> None:
    @workflow
    def wf() -> int:
        return typing.cast(int, call())

    gate = wf.compile().node_map["v"].config
    assert isinstance(gate, SignalGate) and gate.type.kind is TypeKind.INT and gate.timeout_s == 30.0


def test_wait_for_input_needs_one_type() -> None:
    @workflow
    def wf() -> int:
        return typing.cast(int, wait_for_input("v", int, expected_type=str))

    with pytest.raises(SpecError, match="one type"):
        wf.compile()


def test_gates_in_process_say_what_happens() -> None:
    with pytest.warns(GateWarning, match="passes through unapproved"):
        assert approve(5, "ok") == 5
    with pytest.raises(SpecError, match="needs a running execution"):
        wait_for_input("v", timeout=1.0, expected_type=int)


# -- the imperative builder ----------------------------------------------------------------------------------


def test_imperative_workflow_compiles_like_a_decorated_one() -> None:
    spec = fw.built.compile()
    assert [n.id for n in spec.nodes] == ["greet", "side_effect", "join"]
    assert spec.node_map["join"].after == ("side_effect",)
    assert [n for n, _ in spec.interface.inputs] == ["in1", "in2"]
    assert [n for n, _ in spec.interface.outputs] == ["output_from_t1", "output_list"]
    assert fw.built.module == "tests.e2e.wf_flyte_workflows" and fw.built.name == "built"


def test_imperative_workflow_called_in_process() -> None:
    assert fw.built(in1="a", in2="b") == ("a world", ["a world", "a,b"])
    assert fw.single() == "hi world"


def test_imperative_workflow_recompiles_after_more_calls_and_checks_wires() -> None:
    wf = ImperativeWorkflow(name="grow")
    x = wf.add_workflow_input("x", str)
    first = wf.add_entity(fw.greet, a=x)
    wf.add_workflow_output("o0", first.outputs["o0"])
    assert len(wf.compile().nodes) == 1
    wf.add_entity(fw.greet, a=first.o0)
    assert len(wf.compile().nodes) == 2
    bad = ImperativeWorkflow(name="bad")
    n = bad.add_workflow_input("n", int)
    bad.add_entity(fw.greet, a=n)
    with pytest.raises(TypeMismatchError, match="expected str, got int"):
        bad.compile()
    with pytest.raises(SpecError, match="belongs to another workflow"):
        bad.add_entity(fw.greet, a=x)
    with pytest.raises(SpecError, match="give python_type="):
        bad.add_workflow_output("both", [n, n])


# -- in-process calls -----------------------------------------------------------------------------------------


def test_conditional_in_process_runs_only_the_chosen_case() -> None:
    fw.CALLS.clear()
    assert fw.sized(n=3) == "small 9"
    assert fw.CALLS == ["small"]
    fw.CALLS.clear()
    assert fw.sized(n=11) == "big 121"
    assert fw.CALLS == ["big"]
    fw.CALLS.clear()
    with pytest.raises(BranchFailed, match="branch 'size': too big"):
        fw.sized(n=40)
    assert fw.CALLS == []


def test_a_compiled_conditional_is_unchanged_by_in_process_calls() -> None:
    before = fw.sized.compile().digest
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fw.sized(n=3)
    fw.sized._spec = None
    assert fw.sized.compile().digest == before


def test_in_process_body_with_order_overrides_gate_and_conditional(tmp_path: Path) -> None:
    spec = fw.ordered.compile()
    assert spec.node_map["log_step-1"].after == ("log_step",)
    assert spec.tasks[spec.node_map["log_step-1"].task].retries == 2
    log = tmp_path / "log.txt"
    fw.CALLS.clear()
    with pytest.warns(GateWarning, match="approve\\('go'\\)"):
        assert fw.ordered(path=str(log), flag=True) == "big 9"
    assert log.read_text() == "first\nsecond\n"
    assert fw.CALLS == ["big"]
    fw.CALLS.clear()
    with pytest.warns(GateWarning):
        assert fw.ordered(path=str(log), flag=False) == "small 9"
    assert fw.CALLS == ["small"]


def test_in_process_create_node_and_subworkflow_under_ordering() -> None:
    @workflow
    def outer(n: int) -> str:
        node = create_node(fw.square, n=n)
        named = fw.sized(n=node.o0)
        second = fw.square(n=2)
        node >> second
        return typing.cast(str, named)

    assert outer(n=3) == "small 81"  # square(3) = 9, then sized squares it again


def test_in_process_refuses_what_only_an_execution_can_run() -> None:
    @workflow
    def asks(n: int) -> int:
        first = fw.square(n=n)
        first >> fw.square(n=n)
        return typing.cast(int, wait_for_input("v", timeout=1.0, expected_type=int))

    with pytest.raises(SpecError, match="wait_for_input\\('v'\\) needs a running execution"):
        asks(n=1)


# -- @eager ------------------------------------------------------------------------------------------------------


class MemoryCheckpoint:
    """What an attempt's checkpoint offers the journal: the last bytes written survive to the next run."""

    def __init__(self) -> None:
        self.saved: bytes | None = None

    def read(self) -> bytes | None:
        return self.saved

    def write(self, data: bytes) -> None:
        self.saved = data


def test_eager_called_in_process_runs_each_awaited_call(tmp_path: Path) -> None:
    steps, marker = tmp_path / "steps.txt", tmp_path / "marker"
    marker.write_text("already died")  # so the last call returns instead of killing this process
    assert fw.durable(path=str(steps), marker=str(marker)) == 40
    assert steps.read_text().splitlines() == ["step 1", "step 2", "step 3"]


def test_eager_journal_replays_finished_calls_and_refuses_a_different_call() -> None:
    checkpoint = MemoryCheckpoint()
    journal = Journal(checkpoint)
    journal.record(0, "k0", "a(x)", {"v": 1})
    again = Journal(checkpoint)  # the next attempt
    assert again.lookup(0, "k0", "a(x)") == (True, {"v": 1})
    assert again.lookup(1, "k1", "b(y)") == (False, None)
    with pytest.raises(NonRetryableError, match="eager call 0 \\(c\\(z\\)\\) differs"):
        Journal(checkpoint).lookup(0, "other", "c(z)")


def test_eager_must_be_async_and_refuses_what_needs_an_execution() -> None:
    with pytest.raises(SpecError, match="@eager must decorate an 'async def'"):
        eager(fw.greet.function)
    compiled = fw.calls_durable.compile()
    assert compiled.tasks[fw.durable.name].interface.input_map.keys() == {"path", "marker"}
