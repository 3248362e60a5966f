"""Hand-built specs for pure-core tests (no SDK, no type engine)."""

from __future__ import annotations

from setpoint.core.model import ExecutionConfig, ExecutionRecord
from setpoint.spec.types import INT, TypeRef
from setpoint.spec.workflow import (
    Binding,
    FailurePolicy,
    Interface,
    NodeSpec,
    TaskSpec,
    Variable,
    WorkflowSpec,
    validate,
)


def add_task(n_inputs: int, *, retries: int = 0, timeout_s: float | None = None, name: str = "t.add") -> TaskSpec:
    """A task taking ``x0..x{n-1}: int`` (plus ``base: int``) and returning one int."""
    inputs = [("base", Variable(INT, 0, True))] + [(f"x{i}", Variable(INT)) for i in range(n_inputs)]
    return TaskSpec(
        name=name,
        module="t",
        qualname=name.split(".", 1)[1],
        interface=Interface(tuple(inputs), (("o0", INT),)),
        retries=retries,
        timeout_s=timeout_s,
    )


def dag_spec(
    edges: dict[str, list[str]],
    *,
    retries: int = 0,
    timeout_s: float | None = None,
    policy: FailurePolicy = FailurePolicy.FAIL_FAST,
    max_parallelism: int = 0,
) -> WorkflowSpec:
    """Nodes in insertion order of ``edges``; node ``n`` sums its upstream outputs plus ``base``."""
    tasks: dict[str, TaskSpec] = {}
    nodes = []
    for i, (node, ups) in enumerate(edges.items()):
        t = add_task(len(ups), retries=retries, timeout_s=timeout_s, name=f"t.add{len(ups)}")
        tasks[t.name] = t
        inputs = [("base", Binding.const(i + 1))] + [(f"x{j}", Binding.from_node(u, "o0")) for j, u in enumerate(ups)]
        nodes.append(NodeSpec(node, t.name, tuple(inputs)))
    last = list(edges)[-1] if edges else None
    outputs = (("o0", Binding.from_node(last, "o0")),) if last else (("o0", Binding.from_input("x")),)
    iface = Interface((("x", Variable(INT, 0, True)),), (("o0", TypeRef(INT.kind)),))
    spec = WorkflowSpec(
        name="wf",
        interface=iface,
        nodes=tuple(nodes),
        outputs=outputs,
        tasks=tasks,
        max_parallelism=max_parallelism,
        failure_policy=policy,
    )
    validate(spec)
    return spec


def execution_for(spec: WorkflowSpec, eid: str = "exec1", *, max_parallelism: int = 0) -> ExecutionRecord:
    return ExecutionRecord(
        id=eid,
        project="p",
        workflow=spec.name,
        spec_digest=spec.digest,
        code_digest="0" * 64,
        inputs={"x": 0},
        config=ExecutionConfig(max_parallelism=max_parallelism),
        version=1,
    )


def expected_value(edges: dict[str, list[str]], node: str) -> int:
    """What a fault-free run computes for ``node`` (see dag_spec)."""
    index = list(edges).index(node)
    return index + 1 + sum(expected_value(edges, u) for u in edges[node])
