# ruff: noqa: UP006, UP035  # the typing spellings (Dict, List, Tuple) are what flytekit code uses
"""Workflows for the flytekit-style interface and promise tests (tests/e2e/test_flyte_promises.py).

The typing spellings (``Dict``, ``List``, ``Tuple``) are the point: flytekit code uses them.

No ``from __future__ import annotations`` here on purpose: ``-> (int, str)`` is written as
flytekit users write it, and the worker reads the annotations of this module as they are.
"""

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Dict, List, NamedTuple, Tuple

from setpoint import conditional, dynamic, task, workflow
from setpoint.sdk.workflow import create_node


@dataclass
class Record:
    name: str
    type: str
    node_id: int
    binding: list[int]
    meta: dict[str, float]


@dataclass
class Outer:
    inner: Record
    tags: list[str]


@task
def make(x: int) -> Record:
    return Record(name=f"rec-{x}", type="kind-a", node_id=x, binding=[x, x * 10], meta={"score": x / 2})


@task
def wrap(x: int) -> Outer:
    return Outer(inner=make.function(x=x), tags=["first", "second"])


@task
def join(s: str, n: int, f: float) -> str:
    return f"{s}|{n}|{f}"


@task
def show(s: str) -> str:
    return s


@task
def concat(a: str, b: str, c: str) -> str:
    return f"{a};{b};{c}"


@workflow
def fields(x: int = 3) -> str:
    """Fields named like a promise's old attributes (name, type, node_id, binding), and nested parts."""
    r = make(x=x)
    o = wrap(x=x)
    first = join(s=r.name, n=r.node_id, f=r.meta["score"])
    second = join(s=r.type, n=r.binding[1], f=o.inner.meta["score"])
    return concat(a=first, b=second, c=show(s=o.tags[-1]))


@workflow
def name_field(x: int = 5) -> str:
    """The held-out bug: this returned the string "o0"."""
    return make(x=x).name


@task
def lookup(d: Dict[str, int]) -> Dict[str, int]:
    return d


@workflow
def missing_key() -> int:
    """A key that exists only in the type, not in the value: the consuming node fails, naming it."""
    return double(x=lookup(d={"a": 1})["b"])


@task
def double(x: int) -> int:
    return x * 2


# -- interfaces ------------------------------------------------------------------------------------


@task
def pair_typing(x: int) -> Tuple[int, str]:
    return x + 1, f"s{x}"


@task
def pair_bare(x: int) -> (int, str):  # type: ignore[syntax]  # flytekit's spelling of two outputs
    return x * 3, "bare"


@task
def side_effect(path: str):  # type: ignore[no-untyped-def]  # no return annotation: no outputs
    with open(path, "a") as f:
        f.write("ran\n")


@task
def read_file(path: str) -> str:
    with open(path) as f:
        return f.read()


@task
def jsonish(items: list, mapping: dict) -> list:  # type: ignore[type-arg]  # bare list/dict: JSON-like
    return [len(items), mapping.get("k"), items[-1]]


@task
def keyed(d: Dict[int, str]) -> Dict[int, str]:
    return {k * 10: v.upper() for k, v in d.items()}


@task
def count_up(n: int) -> Iterator[int]:
    yield from range(n)


@task
def total(xs: List[int]) -> int:
    return sum(xs)


class Scores(NamedTuple):
    zeta: int
    alpha: str


@task
def scores(x: int) -> Scores:
    return Scores(zeta=x, alpha=f"a{x}")


class Counted(NamedTuple):
    count: int  # type: ignore[assignment]  # the names collide with tuple methods on purpose
    index: str  # type: ignore[assignment]


@task
def counted(x: int) -> Counted:
    return Counted(count=x + 1, index="i")


class Only(NamedTuple):
    only: int


@task
def only_bare(x: int) -> Only:
    return x  # type: ignore[return-value]  # a one-field NamedTuple may be returned bare


@workflow
def interfaces(x: int = 2, path: str = "") -> Tuple[int, str, int, str]:
    a, b = pair_typing(x=x)
    c, d = pair_bare(x=a)
    text = read_file(path=path)
    side_effect(path=path) >> text
    show(s=d) >> text
    return total(xs=count_up(n=c)), b, double(x=a), text


@workflow
def json_values() -> list:  # type: ignore[type-arg]
    return jsonish(items=[1, "two", {"three": 3.5}], mapping={"k": [True, None]})


@workflow
def keyed_values() -> Dict[int, str]:
    return keyed(d={1: "one", 2: "two"})


@workflow
def named_fields(x: int = 4) -> str:
    s = scores(x=x)
    c = counted(x=x)
    return concat(a=s.alpha, b=c.index, c=str_of(n=c.count))


@task
def str_of(n: int) -> str:
    return str(n)


@workflow
def one_field_bare(x: int = 7) -> int:
    return only_bare(x=x).only


# -- conditions, ordering, nodes, overrides ---------------------------------------------------------


@task
def is_big(x: int) -> bool:
    return x > 10


@workflow
def truthy(x: int = 20) -> str:
    flag = is_big(x=x)
    return (
        (conditional("size").if_(flag.is_true()).then(show(s="big")).elif_(flag.is_false()).then(show(s="small")))
        .else_()
        .fail("neither")
    )


@workflow
def compares(x: int, limit: int = 10) -> str:
    return conditional("cmp").if_(x > limit).then(show(s="above")).else_().then(show(s="at or below"))


@workflow
def calls_compares(x: int = 11) -> str:
    """The held-out bug: the subworkflow's operand bound to a constant had "no order"."""
    return compares(x=x)


@workflow
def calls_compares_const() -> str:
    return compares(x=3, limit=2)


@task
def append(path: str, text: str) -> None:
    with open(path, "a") as f:
        f.write(text)


@workflow
def writes(path: str, text: str) -> None:
    append(path=path, text=text)


@workflow
def ordered(path: str) -> str:
    """``>>`` between a subworkflow call and a task, and between nodes made by create_node."""
    first = writes(path=path, text="a")
    second = create_node(append, path=path, text="b")
    third = create_node(read_file, path=path)
    first >> second
    second >> third
    return third.o0


@task
def flaky(marker: str) -> int:
    if not os.path.exists(marker):
        with open(marker, "w") as f:
            f.write("failed once")
        raise RuntimeError("the first attempt fails")
    return 1


@workflow
def overridden(marker: str) -> int:
    return flaky(marker=marker).with_overrides(retries=2, timeout=timedelta(minutes=5), node_name="steady")


# -- mistakes the CLI must report as one `error:` line (compiled only when run) ----------------------


@workflow
def broken_shift() -> None:
    None >> None  # type: ignore[operator]  # noqa: B018  # the mistake under test


@workflow
def broken_keyword(x: int = 1) -> int:
    return double(y=x)


@workflow
def broken_is_true(x: int = 1) -> str:
    return conditional("check").if_(x.is_true()).then(show(s="t")).else_().then(show(s="f"))  # type: ignore[attr-defined]


@workflow
def broken_fstring(x: int = 1) -> str:
    r = make(x=x)
    return show(s=f"name: {r.name}")


@workflow
def broken_field(x: int = 1) -> str:
    return show(s=make(x=x).nmae)


@task
def emoji() -> str:
    return "héllo 😀 ünïcode"


@workflow
def non_ascii() -> str:
    return emoji()


# -- paths through subworkflows and dynamic sub-DAGs --------------------------------------------------


@workflow
def label_of(r: Record, extra: int) -> str:
    return concat(a=r.name, b=r.type, c=str_of(n=extra))


@workflow
def through_subworkflow(x: int = 6) -> str:
    r = make(x=x)
    return label_of(r=r, extra=r.binding[1])


@dynamic
def fan(n: int) -> List[str]:
    return [make(x=i).name for i in range(n)]


@workflow
def through_dynamic(n: int = 3) -> List[str]:
    return fan(n=n)


@workflow
def json_inputs(items: list, mapping: dict, keys: Dict[int, str]) -> list:  # type: ignore[type-arg]
    """JSON-like and int-keyed inputs, as a CLI user passes them."""
    return jsonish(items=items, mapping={"k": keyed(d=keys)})


@workflow
def input_parts(r: Record) -> str:
    """Parts of a workflow input, and a condition on a part of an upstream output."""
    made = make(x=r.binding[0])
    return (
        conditional("by_field")
        .if_(made.node_id > 5)
        .then(concat(a=r.name, b=made.name, c="big"))
        .else_()
        .then(concat(a=r.type, b=made.name, c="small"))
    )


@workflow
def missing_output_key() -> int:
    """A workflow output that is a part the value does not have: the execution fails, saying which."""
    return lookup(d={"a": 1})["b"]


@workflow
def branch_on_missing_key() -> str:
    """A branch whose operand is a part the value does not have: the branch node fails, saying which."""
    value = lookup(d={"a": 1})["b"]
    return conditional("on_b").if_(value > 0).then(show(s="pos")).else_().then(show(s="neg"))
