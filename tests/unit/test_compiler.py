"""Compiling workflow bodies: wiring, type checks, and every class of bad declaration."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, NamedTuple

import pytest

from setpoint import task, workflow
from setpoint.errors import SpecError, TypeMismatchError, UnsupportedTypeError
from setpoint.spec.canonical import canonical_json
from setpoint.spec.workflow import WorkflowSpec


@task
def make(n: int) -> list[float]:
    return [float(i) for i in range(n)]


@task
def mean(xs: list[float], scale: float = 1.0) -> float:
    return sum(xs) / len(xs) * scale


@task
def name_of(x: float) -> str:
    return str(x)


@task
def square(i: int) -> int:
    return i * i


@task
def total(xs: list[int]) -> int:
    return sum(xs)


class MinMax(NamedTuple):
    lo: float
    hi: float


@task
def bounds(xs: list[float]) -> MinMax:
    return MinMax(min(xs), max(xs))


@dataclass
class Model:
    weights: list[float]
    bias: float


@task
def fit(xs: list[float]) -> Model:
    return Model(xs, 0.0)


@task
def predict(model: Model, x: float) -> float:
    return sum(model.weights) * x + model.bias


@task
def side_effect() -> None:
    return None


@task
def nothing() -> None:
    return None


class Opaque:
    pass


@task
def use(x: Opaque) -> int:
    return 1


@task
def loose(x) -> int:  # type: ignore[no-untyped-def]
    return 1


def plain(x: int) -> int:
    return x


@workflow
def pipeline(n: int = 10) -> float:
    xs = make(n=n)
    return mean(xs=xs)


def test_compiles_nodes_bindings_and_outputs() -> None:
    spec = pipeline.compile()
    assert [n.id for n in spec.nodes] == ["make", "mean"]
    assert spec.upstream == {"make": (), "mean": ("make",)}
    assert spec.nodes[1].inputs[0][1].to_json() == {"node": "make", "output": "o0"}
    assert spec.outputs[0][1].to_json() == {"node": "mean", "output": "o0"}
    assert spec.interface.input_map["n"].default == 10


def test_spec_json_round_trips_with_a_stable_digest() -> None:
    spec = pipeline.compile()
    text = canonical_json(spec.to_json())
    again = WorkflowSpec.from_json(json.loads(text))
    assert again.digest == spec.digest
    assert canonical_json(again.to_json()) == text


def test_fan_out_of_1000_binds_a_list() -> None:
    @workflow
    def fan() -> int:
        return total(xs=[square(i=i) for i in range(1000)])

    spec = fan.compile()
    assert len(spec.nodes) == 1001
    assert spec.nodes[1].id == "square-1"
    assert len(spec.upstream["total"]) == 1000


def test_dataclass_and_named_tuple_outputs_wire_by_name() -> None:
    @workflow
    def wf(n: int = 3) -> float:
        xs = make(n=n)
        b = bounds(xs=xs)
        m = fit(xs=xs)
        return predict(model=m, x=b.hi)

    spec = wf.compile()
    assert dict(spec.node_map["predict"].inputs)["x"].to_json() == {"node": "bounds", "output": "hi"}


def test_constants_become_literals_of_the_declared_type() -> None:
    @workflow
    def wf() -> float:
        return mean(xs=[1, 2.5], scale=2)

    (node,) = wf.compile().nodes
    assert dict(node.inputs)["xs"].to_json() == {"literal": [1.0, 2.5]} or dict(node.inputs)["xs"].literal == [1, 2.5]


def test_ordering_without_data_with_rshift() -> None:
    @workflow
    def wf() -> float:
        a = side_effect()
        xs = make(n=2)
        a >> xs
        return mean(xs=xs)

    spec = wf.compile()
    assert spec.upstream["make"] == ("side_effect",)


# ---------------------------------------------------------------------------------------------
# bad declarations: each gets an error that names what is wrong and where
# ---------------------------------------------------------------------------------------------


def test_type_mismatch_names_workflow_node_input_and_types() -> None:
    @workflow
    def wf(n: int = 3) -> float:
        label = name_of(x=1.0)
        return mean(xs=label)

    with pytest.raises(TypeMismatchError) as e:
        wf.compile()
    assert str(e.value) == "workflow 'wf', node 'mean', input 'xs': expected list[float], got str"


def test_type_mismatch_inside_a_list_names_the_index() -> None:
    @workflow
    def wf() -> int:
        return total(xs=[square(i=1), name_of(x=2.0)])

    with pytest.raises(TypeMismatchError, match=r"node 'total', input 'xs'\[1\]: expected int, got str"):
        wf.compile()


def test_workflow_input_of_the_wrong_type() -> None:
    @workflow
    def wf(label: str = "x") -> int:
        return square(i=label)

    with pytest.raises(TypeMismatchError, match=r"node 'square', input 'i': expected int, got str"):
        wf.compile()


def test_missing_input() -> None:
    @workflow
    def wf() -> float:
        return mean()

    with pytest.raises(SpecError, match=r"workflow 'wf', node 'mean': missing input 'xs' \(list\[float\]\)"):
        wf.compile()


def test_unknown_input() -> None:
    @workflow
    def wf() -> int:
        return square(i=1, j=2)

    with pytest.raises(SpecError, match=r"workflow 'wf', node 'square': got an unexpected keyword argument 'j'"):
        wf.compile()


def test_constant_of_the_wrong_type() -> None:
    @workflow
    def wf() -> int:
        return square(i="seven")

    with pytest.raises(TypeMismatchError, match=r"node 'square', input 'i'"):
        wf.compile()


def test_wrong_default_is_rejected() -> None:
    @workflow
    def wf(n: int = "ten") -> float:  # type: ignore[assignment]
        return mean(xs=make(n=n))

    with pytest.raises(TypeMismatchError, match=r"workflow 'wf'.*'n'"):
        wf.compile()


def test_output_type_mismatch() -> None:
    @workflow
    def wf() -> int:
        return name_of(x=1.0)

    with pytest.raises(TypeMismatchError, match=r"workflow 'wf', output 'o0': expected int, got str"):
        wf.compile()


def test_promise_used_in_python_control_flow() -> None:
    @workflow
    def wf(n: int = 3) -> float:
        xs = make(n=n)
        if n > 2:
            return mean(xs=xs)
        return mean(xs=xs, scale=2.0)

    with pytest.raises(SpecError, match=r"a condition on workflow values is only known when the workflow runs; use it in conditional"):
        wf.compile()


def test_loop_over_a_runtime_value() -> None:
    @workflow
    def wf(n: int = 3) -> int:
        return total(xs=[square(i=i) for i in range(n)])

    with pytest.raises(SpecError, match="cannot be used in an index"):
        wf.compile()


def test_result_of_a_task_without_outputs_passed_as_data() -> None:
    @workflow
    def wf() -> int:
        return square(i=nothing())

    with pytest.raises(TypeMismatchError, match=r"got the result of node 'nothing', which has no outputs"):
        wf.compile()


def test_unsupported_type_names_task_and_parameter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SETPOINT_PICKLE", "opt-in")  # by default a plain class travels pickled
    with pytest.raises(UnsupportedTypeError, match=r"task '.*use', input 'x'"):
        use.interface  # noqa: B018


def test_unannotated_parameter() -> None:
    with pytest.raises(SpecError, match="'x'"):
        loose.interface  # noqa: B018


def test_task_defined_inside_a_function_is_rejected() -> None:
    def inner(x: int) -> int:
        return x

    with pytest.raises(SpecError, match="defined inside a function"):
        task(inner)


@pytest.mark.parametrize(
    ("kw", "msg"),
    [
        ({"retries": -1}, "retries must be an integer from 0 to 100"),
        ({"retries": "2"}, "retries must be an integer"),
        ({"timeout": 0}, "timeout must be positive"),
    ],
)
def test_bad_task_options(kw: dict[str, Any], msg: str) -> None:
    with pytest.raises(SpecError, match=msg):
        task(**kw)(plain)


def test_bad_failure_policy() -> None:
    def fn() -> None:
        return None

    with pytest.raises(SpecError, match="failure_policy must be one of"):
        workflow(failure_policy="sometimes")(fn)


def test_workflow_returning_nothing_while_declaring_an_output() -> None:
    @workflow
    def wf() -> int:  # type: ignore[return]  # the missing return is what the SDK must reject
        square(i=1)

    with pytest.raises(SpecError, match=r"declares an output \(int\) but the body returns nothing"):
        wf.compile()


def test_promise_in_an_f_string_is_an_error_not_garbage() -> None:
    @workflow
    def wf(name: str = "x") -> str:
        return name_of(x=float(len(f"{name}/suffix")))

    with pytest.raises(SpecError, match="cannot be used in string formatting"):
        wf.compile()


def test_subworkflows_are_inlined_under_their_own_namespace() -> None:
    from tests.e2e import wf_control as wc

    spec = wc.outer.compile()
    ids = [n.id for n in spec.nodes]
    assert ids == [
        "prep.double", "prep.inc", "spread.inc", "spread.double",
        "nested.prep.double", "nested.prep.inc", "nested.prep-1.double", "nested.prep-1.inc", "inc",
    ]
    assert spec.upstream["spread.inc"] == ("prep.inc",)
    assert spec.upstream["nested.prep.double"] == ("spread.double",)
    assert spec.upstream["inc"] == ("nested.prep-1.inc",)
    assert wc.outer(x=3) == 60  # in-process: prep 7, spread (8, 14), nested 59, inc 60


def test_subworkflow_type_mismatch_names_the_subworkflow() -> None:
    @workflow
    def bad() -> int:
        from tests.e2e import wf_control as wc

        return wc.prep(x=name_of(x=1.0))

    with pytest.raises(TypeMismatchError, match=r"node 'prep.double', input 'x': expected int, got str"):
        bad.compile()


# -- branches ------------------------------------------------------------------------------------

from setpoint import conditional  # noqa: E402


def test_branch_cases_must_produce_the_same_type() -> None:
    @workflow
    def wf(x: float = 1.0) -> str:
        return conditional("pick").if_(x > 0.5).then(name_of(x=x)).else_().then(square(i=1))

    with pytest.raises(TypeMismatchError, match=r"branch 'pick': every case must produce the same type; case 0 gives str, case 1 gives int"):
        wf.compile()


def test_branch_result_without_else_is_rejected() -> None:
    @workflow
    def wf(x: float = 1.0) -> str:
        return conditional("pick").if_(x > 0.5).then(name_of(x=x))  # type: ignore[return-value]  # no else_(): rejected

    with pytest.raises(SpecError, match=r"the result of branch 'pick' is used, but the branch has no else_\(\)"):
        wf.compile()


def test_branch_without_else_is_fine_when_its_result_is_unused() -> None:
    @workflow
    def wf(x: float = 1.0) -> None:
        conditional("maybe_log").if_(x > 0.5).then(name_of(x=x))

    spec = wf.compile()
    assert spec.node_map["name_of"].case_of == ("maybe_log", 0)
    config = spec.node_map["maybe_log"].config
    assert config is not None
    assert config["otherwise"] == "none"


def test_using_a_case_node_outside_its_case_is_rejected() -> None:
    @workflow
    def wf(x: float = 1.0) -> str:
        inner = name_of(x=x)
        leaked: list[Any] = []
        # the append-inside-a-case trick is the misuse under test
        conditional("pick").if_(x > 0.5).then(leaked.append(mean(xs=[x])) or inner).else_().then(inner)  # type: ignore[func-returns-value]
        return name_of(x=leaked[0])

    with pytest.raises(SpecError, match=r"uses node 'mean', which runs only when branch 'pick' takes case 0"):
        wf.compile()


def test_conditions_must_compare_comparable_types() -> None:
    @workflow
    def wf(x: float = 1.0) -> str:
        xs = make(n=3)
        return conditional("pick").if_(xs > 1).then(name_of(x=x)).else_().then(name_of(x=0.0))

    with pytest.raises(TypeMismatchError, match=r"cannot compare a value of type list\[float\] with >"):
        wf.compile()


def test_conditions_cannot_mix_types() -> None:
    @workflow
    def wf(x: float = 1.0, label: str = "a") -> str:
        # the float == str mix is what the compiler must reject
        return conditional("pick").if_(x == label).then(name_of(x=x)).else_().then(name_of(x=0.0))  # type: ignore[comparison-overlap]

    with pytest.raises(TypeMismatchError, match=r"cannot compare float == str"):
        wf.compile()


def test_python_and_between_conditions_is_rejected() -> None:
    @workflow
    def wf(x: float = 1.0) -> str:
        return conditional("pick").if_(x > 0 and x < 1).then(name_of(x=x)).else_().then(name_of(x=0.0))

    with pytest.raises(SpecError, match=r"combine conditions with & and \|"):
        wf.compile()


def test_branch_spec_round_trips_through_json() -> None:
    @workflow
    def wf(x: float = 1.0) -> str:
        return (
            conditional("pick")
            .if_((x > 0.5) & (x < 2.0))
            .then(name_of(x=x))
            .elif_(x.is_none())  # type: ignore[attr-defined]  # inside a workflow an input is a promise
            .then(name_of(x=0.0))
            .else_()
            .fail("out of range")
        )

    spec = wf.compile()
    again = WorkflowSpec.from_json(json.loads(canonical_json(spec.to_json())))
    assert again.digest == spec.digest
    config = again.node_map["pick"].config
    assert config is not None
    assert config["message"] == "out of range"


# -- gates ---------------------------------------------------------------------------------------

from setpoint import approve, wait_for_input  # noqa: E402


def test_two_gates_cannot_share_a_signal_name() -> None:
    @workflow
    def wf(x: float = 1.0) -> str:
        a = approve(name_of(x=x), "ok")
        return approve(a, "ok")

    with pytest.raises(SpecError, match=r"node 'ok-1': two gates wait for the signal 'ok'"):
        wf.compile()


def test_gate_outputs_are_typed() -> None:
    @workflow
    def wf() -> str:
        return name_of(x=wait_for_input("threshold", int))

    spec = wf.compile()
    assert str(spec.node_outputs(spec.node_map["threshold"])["o0"]) == "int"

    @workflow
    def bad() -> int:
        return square(i=wait_for_input("label", str))

    with pytest.raises(TypeMismatchError, match=r"node 'square', input 'i': expected int, got str"):
        bad.compile()


def test_hostile_signal_names_are_rejected() -> None:
    @workflow
    def wf() -> int:
        return square(i=wait_for_input("../../etc", int))

    with pytest.raises(SpecError, match="invalid node name"):
        wf.compile()


def test_launch_plan_fixed_inputs_cannot_be_set() -> None:
    from tests.e2e import wf_control as wcf

    @workflow
    def wf() -> str:
        return wcf.nightly(dataset="dev")

    with pytest.raises(SpecError, match="input 'dataset' is fixed and cannot be set"):
        wf.compile()


@task
def needs_more(error: str, missing_thing: int) -> None:
    return None


def test_on_failure_task_must_take_what_it_is_given() -> None:
    @workflow(on_failure=needs_more)
    def wf(x: float = 1.0) -> str:
        return name_of(x=x)

    with pytest.raises(SpecError, match=r"on_failure task '.*needs_more' takes 'missing_thing', but it receives only 'error'"):
        wf.compile()


def test_map_over_a_non_list_is_a_type_error() -> None:
    from setpoint import map_task

    @workflow
    def wf(n: int = 3) -> int:
        return total(xs=map_task(square)(i=n))

    with pytest.raises(TypeMismatchError, match=r"node 'square-map', input 'i': expected list\[int\], got int"):
        wf.compile()
