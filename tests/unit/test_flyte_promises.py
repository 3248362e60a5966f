"""Promises as flytekit code uses them: parts of values, conditions, ordering, nodes and overrides."""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace
from typing import Any, NamedTuple

import pytest

from setpoint import conditional, task, workflow
from setpoint.cli.render import output_lines, value_text
from setpoint.core.model import ExecutionRecord
from setpoint.core.phases import ExecutionPhase
from setpoint.core.reconcile.overlay import resolve_binding
from setpoint.errors import SpecError, TypeMismatchError
from setpoint.sdk.compiler import OverrideWarning
from setpoint.sdk.promise import PromiseAttributeError
from setpoint.sdk.task import Resources
from setpoint.sdk.workflow import create_node
from setpoint.spec.bindings import Binding, PathError, follow_path
from setpoint.spec.canonical import canonical_json
from setpoint.spec.workflow import WorkflowSpec


@dataclass
class Inner:
    score: float
    labels: list[str]


@dataclass
class Rec:
    name: str
    type: str
    node_id: int
    binding: str
    count: int
    inner: Inner
    by_key: dict[str, int]
    maybe: Inner | None


@task
def make(x: int) -> Rec:
    return Rec("n", "t", x, "b", 1, Inner(0.5, ["a"]), {"$k": 1}, None)


@task
def use_str(s: str) -> str:
    return s


@task
def use_int(n: int) -> int:
    return n


@task
def use_float(f: float) -> float:
    return f


@task
def flag(x: int) -> bool:
    return x > 0


@task
def nothing() -> None:
    return None


class Pair(NamedTuple):
    count: int  # type: ignore[assignment]  # the names collide with tuple methods on purpose
    index: str  # type: ignore[assignment]


@task
def pair(x: int) -> Pair:
    return Pair(x, "i")


@task
def plain(x: int):  # type: ignore[no-untyped-def]  # no return annotation: no outputs
    return None


def inputs_of(spec: WorkflowSpec, node: str) -> dict[str, Binding]:
    return dict(spec.node_map[node].inputs)


# -- parts of a value ------------------------------------------------------------------------------


def test_fields_named_like_the_promises_own_attributes_are_the_users() -> None:
    @workflow
    def wf(x: int = 1) -> str:
        r = make(x=x)
        use_str(s=r.type)
        use_int(n=r.node_id)
        use_str(s=r.binding)
        use_int(n=r.count)
        return use_str(s=r.name)

    spec = wf.compile()
    got = {n.id: n.inputs[0][1].path for n in spec.nodes if n.id != "make"}
    assert got == {
        "use_str": ("type",),
        "use_int": ("node_id",),
        "use_str-1": ("binding",),
        "use_int-1": ("count",),
        "use_str-2": ("name",),
    }
    assert inputs_of(spec, "use_str-2")["s"] == Binding.from_node("make", "o0").at("name")


def test_nested_parts_index_and_keys_become_one_path() -> None:
    @workflow
    def wf(x: int = 1) -> float:
        r = make(x=x)
        use_str(s=r.inner.labels[-1])
        use_int(n=r.by_key["$k"])
        return use_float(f=r.inner.score)

    spec = wf.compile()
    assert inputs_of(spec, "use_str")["s"].path == ("inner", "labels", -1)
    assert inputs_of(spec, "use_int")["n"].path == ("by_key", "$$k")  # dict keys in their literal form
    assert inputs_of(spec, "use_float")["f"].path == ("inner", "score")


def test_a_path_round_trips_through_json_and_changes_the_digest() -> None:
    @workflow
    def a(x: int = 1) -> str:
        return use_str(s=make(x=x).name)

    @workflow
    def b(x: int = 1) -> str:
        return use_str(s=make(x=x).type)

    spec = a.compile()
    again = WorkflowSpec.from_json(json.loads(canonical_json(spec.to_json())))
    assert again.digest == spec.digest
    assert inputs_of(again, "use_str")["s"].path == ("name",)
    assert b.compile().digest != spec.digest


@pytest.mark.parametrize(
    ("body", "exc", "message"),
    [
        (lambda r: use_str(s=r.nmae), PromiseAttributeError, r"has no field 'nmae' \(fields: name, type, node_id"),
        (lambda r: use_str(s=r.node_id.real), PromiseAttributeError, "is a int, which has no attribute 'real'"),
        (lambda r: use_str(s=r.inner.labels.x), PromiseAttributeError, "use \\[...\\] for its items"),
        (lambda r: use_str(s=r.inner.labels["a"]), TypeMismatchError, r"cannot be indexed|has no field or key 'a'"),
        (lambda r: use_str(s=r.by_key[0]), TypeMismatchError, r"cannot be indexed with \[0\]"),
        (lambda r: use_str(s=r.maybe.score), TypeMismatchError, "may be None"),
        (lambda r: use_str(s=r.inner.labels[r.count]), SpecError, "an index or key must be a constant"),
        (lambda r: use_str(s=r.inner.score), TypeMismatchError, "expected str, got float"),
    ],
)
def test_parts_are_type_checked_at_compile_time(body: Any, exc: type[Exception], message: str) -> None:
    @workflow
    def wf(x: int = 1) -> None:
        body(make(x=x))

    with pytest.raises(exc, match=message):
        wf.compile()


def test_an_unknown_attribute_is_an_attribute_error_too() -> None:
    @workflow
    def wf(x: int = 1) -> None:
        r = make(x=x)
        assert not hasattr(r, "nope")
        assert not hasattr(r, "_private")

    wf.compile()


def test_named_outputs_named_count_and_index_win_over_tuple_methods() -> None:
    @workflow
    def wf(x: int = 1) -> str:
        p = pair(x=x)
        use_int(n=p.count)
        assert set(p.outputs) == {"count", "index"}
        return use_str(s=p.index)

    spec = wf.compile()
    assert inputs_of(spec, "use_int")["n"] == Binding.from_node("pair", "count")
    assert inputs_of(spec, "use_str")["s"] == Binding.from_node("pair", "index")


def test_a_branch_result_has_parts_too() -> None:
    @workflow
    def wf(x: int = 1) -> str:
        r = conditional("pick").if_(x > 0).then(make(x=x)).else_().then(make(x=0))
        return use_str(s=r.name)

    binding = inputs_of(wf.compile(), "use_str")["s"]
    assert binding.select is not None and binding.path == ("name",)


# -- the pure resolution ----------------------------------------------------------------------------


def test_follow_path_takes_steps_and_says_which_one_is_missing() -> None:
    value = {"a": [1, {"b": None}]}
    assert follow_path(value, ("a", 1, "b")) == (None, ())
    assert follow_path(value, ("a", -2)) == (1, ())
    with pytest.raises(PathError, match=r"\.a has 2 items, so it has no item \[5\]"):
        follow_path(value, ("a", 5))
    with pytest.raises(PathError, match=r"\.a\[1\]\.b is None, so it has no 'c'"):
        follow_path(value, ("a", 1, "b", "c"))
    with pytest.raises(PathError, match="has no key or field 'z'"):
        follow_path(value, ("z",))


def test_the_core_resolves_paths_and_defers_past_offloaded_parts() -> None:
    ref = {"$ref": {"uri": "sha256:x", "sha256": "x", "size": 1, "format": "json"}}
    outputs = {"o0": {"inline": {"k": [10, 20]}, "big": ref}}
    view = SimpleNamespace(node=lambda node_id: SimpleNamespace(outputs=outputs))
    state = SimpleNamespace(execution=SimpleNamespace(inputs={"cfg": {"n": 3}}))
    node = Binding.from_node("make", "o0")
    assert resolve_binding(node.at("inline", "k", 1), state, view) == 20  # type: ignore[arg-type]
    assert resolve_binding(Binding.from_input("cfg").at("n"), state, view) == 3  # type: ignore[arg-type]
    deferred = resolve_binding(node.at("big", 0, "x"), state, view)  # type: ignore[arg-type]
    assert deferred == {"$at": {"value": ref, "path": [0, "x"]}}
    with pytest.raises(PathError):
        resolve_binding(node.at("inline", "nope"), state, view)  # type: ignore[arg-type]


def test_a_bad_path_in_a_spec_file_is_refused() -> None:
    with pytest.raises(SpecError, match="'path' must be a non-empty list"):
        Binding.from_json({"node": "a", "output": "o0", "path": [True]}, "b")


# -- conditions ----------------------------------------------------------------------------------


def test_is_true_is_false_and_is_none_build_conditions() -> None:
    @workflow
    def wf(x: int = 1) -> str:
        f = flag(x=x)
        r = make(x=x)
        return (
            conditional("c")
            .if_(f.is_true())
            .then(use_str(s="t"))
            .elif_(f.is_false() & r.maybe.is_none())
            .then(use_str(s="f"))
            .else_()
            .fail("no")
        )

    config = wf.compile().node_map["c"].config
    assert config is not None
    assert config["conditions"][0] == {"op": "eq", "left": {"ref": "c0"}, "right": {"const": True}}
    assert config["conditions"][1]["args"][1] == {"op": "is_none", "arg": {"ref": "c2"}}


def test_is_true_on_a_value_that_is_not_a_bool_says_so() -> None:
    @workflow
    def wf(x: int = 1) -> str:
        return conditional("c").if_(x.is_true()).then(use_str(s="t")).else_().fail("no")  # type: ignore[attr-defined]

    with pytest.raises(TypeMismatchError, match=r"workflow input 'x' has type int; is_true\(\) needs a bool"):
        wf.compile()


def test_a_subworkflow_comparing_inputs_bound_to_constants_compiles() -> None:
    @workflow
    def inner(x: int, limit: int = 10) -> str:
        return conditional("cmp").if_(x > limit).then(use_str(s="hi")).else_().then(use_str(s="lo"))

    @workflow
    def outer() -> str:
        return inner(x=3)

    spec = outer.compile()
    assert [b.literal for _, b in spec.node_map["inner.cmp"].inputs] == [3, 10]


# -- promises used as Python values -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("misuse", "message"),
    [
        (lambda p: f"{p}", "string formatting"),
        ("{}".format, "string formatting"),
        (lambda p: "%s" % p, "string formatting"),  # noqa: UP031  # the old spelling is the point
        (str, "string formatting"),
        (lambda p: ["a " + str(p) + " b"], "string formatting"),
        (bool, "a Python condition"),
        (lambda p: "a" in p, "an `in` test"),
        (lambda p: p + 1, "arithmetic"),
        (lambda p: -p, "arithmetic"),
    ],
)
def test_a_promise_used_as_a_python_value_says_why_it_cannot_be(misuse: Any, message: str) -> None:
    @workflow
    def wf(x: int = 1) -> str:
        return use_str(s=misuse(make(x=x).name))

    with pytest.raises(SpecError, match=message) as e:
        wf.compile()
    assert "output 'o0' of node 'make' at .name is only known when the workflow runs" in str(e.value)


def test_printing_a_promise_while_compiling_is_harmless(capsys: pytest.CaptureFixture[str]) -> None:
    @workflow
    def wf(x: int = 1) -> str:
        out = make(x=x).name
        print(out, str(out))  # flytekit programs print promises while compiling: the text is a placeholder
        return use_str(s=out)

    wf.compile()
    printed = capsys.readouterr().out
    assert "output 'o0' of node 'make' at .name" in printed


def test_text_made_from_a_promise_cannot_be_a_workflow_output() -> None:
    @workflow
    def wf(x: int = 1) -> str:
        return "name: " + str(make(x=x).name)

    with pytest.raises(SpecError, match="string formatting"):
        wf.compile()


def test_a_python_mistake_in_the_body_names_the_workflow_and_line() -> None:
    @workflow
    def wf() -> None:
        nothing()
        None >> None  # type: ignore[operator]  # noqa: B018  # the mistake under test

    with pytest.raises(SpecError, match=r"^workflow 'wf', line \d+ after node 'nothing': TypeError: unsupported"):
        wf.compile()


# -- ordering and nodes --------------------------------------------------------------------------------


@workflow
def sub(x: int = 1) -> None:
    nothing()
    plain(x=x)


def test_rshift_orders_subworkflow_calls_and_task_calls_both_ways() -> None:
    @workflow
    def wf(x: int = 1) -> int:
        first = nothing()
        s = sub(x=x)
        last = use_int(n=x)
        first >> s
        s >> last
        return last

    spec = wf.compile()
    assert spec.node_map["sub.nothing"].after == ("nothing",)
    assert spec.node_map["sub.plain"].after == ("nothing",)
    assert set(spec.node_map["use_int"].after) == {"sub.nothing", "sub.plain"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            lambda x: None >> nothing(),
            "the left side of >>: expected the result of a task, subworkflow or node call, got None",
        ),
        (lambda x: nothing() >> None, "the right side of >>: expected .* got None"),
        (lambda x: x >> nothing(), "workflow input 'x' is not the result of a call"),
    ],
)
def test_rshift_mistakes_say_which_side(body: Any, message: str) -> None:
    @workflow
    def wf(x: int = 1) -> None:
        body(x)

    with pytest.raises(SpecError, match=message):
        wf.compile()


def test_create_node_gives_a_node_with_outputs() -> None:
    @workflow
    def wf(x: int = 1) -> str:
        a = create_node(pair, x=x)
        b = create_node(use_str, s=a.index)
        c = create_node(nothing)
        c >> a
        assert set(a.outputs) == {"count", "index"} and c.outputs == {}
        return b.o0

    spec = wf.compile()
    assert spec.node_map["pair"].after == ("nothing",)
    assert dict(spec.outputs)["o0"] == Binding.from_node("use_str", "o0")


def test_create_node_called_directly_runs_the_call() -> None:
    node = create_node(pair, x=3)
    assert node.count == 3 and node.outputs == {"count": 3, "index": "i"}
    assert create_node(use_int, n=4).o0 == 4


# -- overrides ----------------------------------------------------------------------------------------


def test_with_overrides_makes_a_task_variant_for_that_node_only() -> None:
    @workflow
    def wf(x: int = 1) -> int:
        a = use_int(n=x).with_overrides(
            retries=3,
            timeout=timedelta(seconds=30),
            requests=Resources(cpu=2, mem="1Gi"),
            cache=True,
            cache_version="2",
        )
        return use_int(n=a)

    spec = wf.compile()
    first, second = spec.node_map["use_int"], spec.node_map["use_int-1"]
    assert second.task == use_int.name and first.task != use_int.name
    variant = spec.tasks[first.task]
    assert (variant.retries, variant.timeout_s, dict(variant.resources)) == (3, 30.0, {"cpu": "2", "mem": "1Gi"})
    assert variant.cache.enabled and variant.cache.version == "2"
    assert (variant.module, variant.qualname) == (use_int.module, use_int.qualname)
    assert spec.tasks[use_int.name].retries == 0


def test_with_overrides_renames_the_node() -> None:
    @workflow
    def wf(x: int = 1) -> int:
        return use_int(n=use_int(n=x).with_overrides(node_name="first-step"))

    spec = wf.compile()
    assert [n.id for n in spec.nodes] == ["first-step", "use_int-1"]
    assert inputs_of(spec, "use_int-1")["n"] == Binding.from_node("first-step", "o0")
    assert spec.tasks.keys() == {use_int.name}  # a rename alone needs no variant


def test_with_overrides_warns_about_what_it_does_not_use_and_refuses_the_unknown() -> None:
    @workflow
    def warned(x: int = 1) -> int:
        return use_int(n=x).with_overrides(interruptible=True, limits=Resources(mem="1Gi"), name="shown")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warned.compile()
    texts = [str(w.message) for w in caught if issubclass(w.category, OverrideWarning)]
    assert any("interruptible=...) is accepted but not used" in t for t in texts)
    assert any("limits=...) is recorded in the spec; no executor enforces limits" in t for t in texts)
    assert any("name=...) is accepted but not used" in t and "node_name= renames" in t for t in texts)
    assert [n.id for n in warned.compile().nodes] == ["use_int"]

    @workflow
    def unknown(x: int = 1) -> int:
        return use_int(n=x).with_overrides(retires=2)

    with pytest.raises(SpecError, match=r"node 'use_int': with_overrides\(\) got an unknown option 'retires'"):
        unknown.compile()

    @workflow
    def bad(x: int = 1) -> int:
        return use_int(n=x).with_overrides(retries=-1)

    with pytest.raises(SpecError, match="retries must be an integer from 0 to 100"):
        bad.compile()


# -- rendering -----------------------------------------------------------------------------------------


def test_outputs_print_non_ascii_text_as_itself() -> None:
    assert value_text({"s": "héllo 😀"}) == '{"s": "héllo 😀"}'
    rec = ExecutionRecord("e1", "p", "w", "d", "c", {}, ExecutionPhase.SUCCEEDED, outputs={"o0": "😀", "n": 1})
    assert output_lines(rec) == ['  o0 = "😀"', "  n = 1"]
    assert output_lines(ExecutionRecord("e2", "p", "w", "d", "c", {})) == []
