# mypy: disable-error-code="no-any-return"
# ruff: noqa: UP006, UP045  # the typing spellings (List, Optional) are what flytekit code uses
"""Workflows written as flytekit writes them (tests/e2e/test_flyte_workflows.py and the unit tests).

Failure policies by flytekit's names, ``on_failure`` handlers taking ``err``, gates with
flytekit's keywords, the imperative builder, and a conditional that also runs when the workflow is
called directly in Python.
"""

import os
import signal
import time
import typing
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from setpoint.sdk.conditional import conditional
from setpoint.sdk.eager import EagerException, eager
from setpoint.sdk.gates import approve, wait_for_input
from setpoint.sdk.imperative import ImperativeWorkflow
from setpoint.sdk.task import task
from setpoint.sdk.workflow import WorkflowError, WorkflowFailurePolicy, workflow

# -- failure policies ---------------------------------------------------------------------------------


@task
def boom(x: int) -> int:
    raise ValueError(f"boom {x}")


@task
def slow_mark(path: str, seconds: float) -> str:
    time.sleep(seconds)
    Path(path).write_text("finished")
    return "finished"


@workflow(failure_policy=WorkflowFailurePolicy.FAIL_AFTER_EXECUTABLE_NODES_COMPLETE)
def keep_going(x: int, path: str) -> None:
    boom(x=x)
    slow_mark(path=path, seconds=1.0)


@workflow(failure_policy=WorkflowFailurePolicy.FAIL_IMMEDIATELY)
def stop_at_once(x: int, path: str) -> None:
    boom(x=x)
    slow_mark(path=path, seconds=20.0)


# -- on_failure ---------------------------------------------------------------------------------------


@task
def clean_up(report: str, err: typing.Optional[WorkflowError] = None) -> None:
    """flytekit's failure-node example: the workflow's inputs, and the error in ``err``."""
    assert err is not None
    print(f"cleaning up after {err.failed_node_id}")
    Path(report).write_text(f"{err.failed_node_id}|{err.message}")


@workflow(on_failure=clean_up)
def guarded(x: int, report: str) -> int:
    return boom(x=x)


@task
def clean_up_text(report: str, err: str) -> None:
    Path(report).write_text(err)


@workflow(on_failure=clean_up_text)
def guarded_text(x: int, report: str) -> int:
    return boom(x=x)


@task
def write_note(report: str, text: str) -> str:
    Path(report).write_text(text)
    return text


@task
def describe_error(err: typing.Optional[WorkflowError]) -> str:
    return "none" if err is None else f"failed at {err.failed_node_id}"


@workflow
def clean_up_flow(report: str, err: typing.Optional[WorkflowError] = None) -> None:
    """A workflow as the failure handler, as flytekit allows: its steps run in the handler's attempt."""
    write_note(report=report, text=describe_error(err=err))


@workflow(on_failure=clean_up_flow)
def guarded_by_flow(x: int, report: str) -> int:
    return boom(x=x)


@workflow(on_failure=clean_up_text)
def inner_guarded(x: int, report: str) -> int:
    return boom(x=x)


@workflow
def outer_of_guarded(x: int, report: str) -> int:
    """Calls a subworkflow that has its own on_failure: that handler runs when the subworkflow fails."""
    return inner_guarded(x=square(n=x), report=report)


# -- gates ----------------------------------------------------------------------------------------------


@dataclass
class Model:
    type: str  # a field named like the promise attribute gates used to read
    size: int


@task
def make_model(size: int) -> Model:
    return Model(type="linear", size=size)


@task
def deploy(model: Model, factor: int) -> str:
    return f"{model.type}:{model.size * factor}"


@workflow
def reviewed(size: int) -> str:
    model = approve(make_model(size=size), "model_ok", timeout=timedelta(seconds=120))
    factor = wait_for_input("factor", timeout=timedelta(seconds=120), expected_type=int)
    return deploy(model=model, factor=factor)


# -- the imperative builder ----------------------------------------------------------------------------


@task
def greet(a: str) -> str:
    return a + " world"


@task
def side_effect() -> None:
    print("side effect")


@task
def join(a: typing.List[str]) -> str:
    return ",".join(a)


built = ImperativeWorkflow(name="built")
built.add_workflow_input("in1", str)
greeted = built.add_entity(greet, a=built.inputs["in1"])
built.add_workflow_output("output_from_t1", greeted.outputs["o0"])
effect = built.add_entity(side_effect)
in2 = built.add_workflow_input("in2", str)
joined = built.add_entity(join, a=[built.inputs["in1"], in2])
effect >> joined
built.add_workflow_output("output_list", [greeted.outputs["o0"], joined.outputs["o0"]], python_type=typing.List[str])

single = ImperativeWorkflow(name="single")
sub_greeted = single.add_entity(greet, a="hi")
single.add_workflow_output("o0", sub_greeted.outputs["o0"])


# -- a conditional that also runs in-process -------------------------------------------------------------


@task
def square(n: int) -> int:
    return n * n


CALLS: list[str] = []  # which case's task ran, when the workflow is called in-process


@task
def big(n: int) -> str:
    CALLS.append("big")
    return f"big {n}"


@task
def small(n: int) -> str:
    CALLS.append("small")
    return f"small {n}"


@workflow
def sized(n: int) -> str:
    m = square(n=n)
    return (
        conditional("size")
        .if_((m > 100) & (m < 1000))
        .then(big(n=m))
        .elif_(m <= 100)
        .then(small(n=m))
        .else_()
        .fail("too big")
    )


# -- >>, with_overrides, a gate and a conditional in one body, also called in-process -------------------


@task
def log_step(path: str, step: str) -> None:
    with open(path, "a") as fh:
        fh.write(step + "\n")


@task
def checked(flag: bool) -> bool:
    return flag


@workflow
def ordered(path: str, flag: bool) -> str:
    first = log_step(path=path, step="first")
    second = log_step(path=path, step="second").with_overrides(retries=2)
    first >> second
    m = square(n=3).with_overrides(timeout=timedelta(seconds=30))
    approved = approve(m, "go", timeout=timedelta(seconds=60))
    ok = checked(flag=flag)
    return conditional("pick").if_(ok.is_true()).then(big(n=approved)).else_().then(small(n=approved))


# -- @eager --------------------------------------------------------------------------------------------------


@task
def count_step(path: str, n: int) -> int:
    with open(path, "a") as fh:
        fh.write(f"step {n}\n")
    return n + 1


@task
def die_once(marker: str, n: int) -> int:
    """Kills the process it runs in (the eager node's attempt) the first time: a real crash mid-way."""
    if not os.path.exists(marker):
        Path(marker).write_text("died")
        os.kill(os.getpid(), signal.SIGKILL)
    return n * 10


@eager
async def durable(path: str, marker: str) -> int:
    a = await count_step(path=path, n=1)
    b = await count_step(path=path, n=a)
    if b > 2:  # plain Python control flow on an awaited value
        b = await count_step(path=path, n=b)
    return await die_once(marker=marker, n=b)


@workflow
def calls_durable(path: str, marker: str) -> int:
    return durable(path=path, marker=marker)


@task
def wait_for_file(gate: str, n: int) -> int:
    """Holds the eager attempt until ``gate`` exists (so a test can kill the controller meanwhile)."""
    deadline = time.monotonic() + 60
    while not os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.05)
    return n * 100


@eager
async def durable_slow(path: str, gate: str) -> int:
    a = await count_step(path=path, n=1)
    b = await count_step(path=path, n=a)
    return await wait_for_file(gate=gate, n=b)


@task
def refuse(x: int) -> int:
    if x <= 0:
        raise ValueError("x must be positive")
    return x


@eager
async def catches(x: int) -> int:
    """An eager body that catches a failed call, as flytekit's EagerException lets it."""
    try:
        return await refuse(x=x)
    except EagerException:
        return -1
