"""Tables and properties for the pure reconciler (no mocks, no I/O)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from setpoint.core.model import AttemptObservation, ExecutionConfig, Observed
from setpoint.core.phases import AttemptPhase, ErrorKind, ExecutionPhase, NodePhase
from setpoint.core.reconcile import ReconcileConfig, backoff_delay, reconcile
from setpoint.core.state import Abort, ExecutionState
from setpoint.spec.workflow import FailurePolicy
from tests.support.sim import Sim
from tests.support.specs import dag_spec, execution_for, expected_value
from tests.unit.core.builders import launches

CHAIN = {"a": [], "b": ["a"], "c": ["b"]}
DIAMOND = {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]}


def sim_for(edges: dict[str, list[str]], **kw: Any) -> Sim:
    spec_kw = {k: v for k, v in kw.items() if k in ("retries", "timeout_s", "policy", "max_parallelism")}
    spec = dag_spec(edges, **spec_kw)
    return Sim(spec, execution_for(spec), cfg=kw.get("cfg", ReconcileConfig(backoff_base_s=0.0)))


def run_to_end(sim: Sim, max_rounds: int = 200) -> None:
    for _ in range(max_rounds):
        if sim.execution.phase.is_terminal:
            return
        for aid in sim.running():
            sim.succeed(aid)
        sim.round()
    raise AssertionError("did not finish")


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------


def test_first_round_starts_execution_and_launches_roots_only() -> None:
    sim = sim_for(DIAMOND)
    d = sim.round()
    assert d.execution is not None and d.execution.phase is ExecutionPhase.RUNNING
    assert launches(d) == ["exec1/a/1"]
    assert sim.node_phase("a") is NodePhase.QUEUED
    assert sim.attempts["exec1/a/1"].phase is AttemptPhase.LAUNCHING


def test_success_launches_downstream_in_the_same_round() -> None:
    sim = sim_for(CHAIN)
    sim.round()
    sim.succeed("exec1/a/1")
    d = sim.round()
    assert sim.node_phase("a") is NodePhase.SUCCEEDED
    assert launches(d) == ["exec1/b/1"]
    assert sim.nodes["b"].inputs == {"base": 2, "x0": 1}


def test_chain_completes_with_outputs_of_the_last_node() -> None:
    sim = sim_for(CHAIN)
    run_to_end(sim)
    assert sim.execution.phase is ExecutionPhase.SUCCEEDED
    assert sim.execution.outputs == {"o0": expected_value(CHAIN, "c")}


def test_diamond_joins_both_branches() -> None:
    sim = sim_for(DIAMOND)
    run_to_end(sim)
    assert sim.nodes["d"].inputs == {"base": 4, "x0": 3, "x1": 4}
    assert sim.execution.outputs == {"o0": expected_value(DIAMOND, "d")}


def test_empty_workflow_succeeds_at_once_with_its_input() -> None:
    sim = sim_for({})
    d = sim.round()
    assert d.execution is not None and d.execution.phase is ExecutionPhase.SUCCEEDED
    assert sim.execution.outputs == {"o0": 0}


def test_running_observation_moves_node_to_running() -> None:
    sim = sim_for(CHAIN)
    sim.round()
    sim.pending_hints.add("exec1/a/1")
    sim.round()
    assert sim.node_phase("a") is NodePhase.RUNNING
    assert sim.attempts["exec1/a/1"].phase is AttemptPhase.RUNNING


def test_user_failure_retries_under_a_new_attempt_id_after_backoff() -> None:
    sim = sim_for(CHAIN, retries=1, cfg=ReconcileConfig(backoff_base_s=10.0))
    sim.round()
    sim.fail("exec1/a/1")
    d = sim.round()
    node = sim.nodes["a"]
    assert node.phase is NodePhase.RETRYING and node.user_failures == 1
    assert d.requeue_after is not None and 5.0 <= d.requeue_after <= 10.0
    assert launches(d) == []
    sim.now += 4.0
    assert launches(sim.round()) == []  # still backing off
    sim.now += 10.0
    d = sim.round()
    assert launches(d) == ["exec1/a/2"]
    assert sim.nodes["a"].attempt == 2


def test_user_retries_exhausted_fails_the_execution_with_the_reason() -> None:
    sim = sim_for(CHAIN, retries=1)
    sim.round()
    sim.fail("exec1/a/1")
    sim.round()
    sim.fail("exec1/a/2")
    sim.round()
    assert sim.node_phase("a") is NodePhase.FAILED
    assert sim.execution.phase is ExecutionPhase.FAILED
    err = sim.execution.error
    assert err is not None and err.node == "a" and "retries exhausted: 1" in err.message


def test_system_failures_have_their_own_budget() -> None:
    sim = sim_for(CHAIN, retries=0, cfg=ReconcileConfig(backoff_base_s=0.0, max_system_retries=2))
    sim.round()
    for n in (1, 2):
        sim.fail(f"exec1/a/{n}", ErrorKind.SYSTEM)
        sim.round()
        assert sim.node_phase("a") is NodePhase.QUEUED, "a system error must not use the user budget"
    sim.fail("exec1/a/3", ErrorKind.SYSTEM)
    sim.round()
    assert sim.node_phase("a") is NodePhase.FAILED
    assert sim.nodes["a"].system_failures == 3 and sim.nodes["a"].user_failures == 0
    assert "system retries exhausted" in (sim.execution.error.message if sim.execution.error else "")


def test_non_retryable_error_fails_without_using_retries() -> None:
    sim = sim_for(CHAIN, retries=5)
    sim.round()
    sim.fail("exec1/a/1", retryable=False)
    sim.round()
    assert sim.node_phase("a") is NodePhase.FAILED
    assert sim.nodes["a"].attempt == 1


def test_timeout_kills_the_attempt_then_counts_as_a_user_failure() -> None:
    sim = sim_for({"a": []}, timeout_s=5.0, retries=1)
    sim.round()
    sim.pending_hints.add("exec1/a/1")
    d = sim.round()  # now RUNNING, started at sim.now
    assert d.requeue_after == pytest.approx(5.0)
    sim.now += 6.0
    d = sim.round()
    aborts = [a for a in d.actions if isinstance(a, Abort)]
    assert [a.attempt_id for a in aborts] == ["exec1/a/1"] and aborts[0].reason == "timeout"
    assert sim.attempts["exec1/a/1"].phase is AttemptPhase.ABORTING
    sim.round()  # the toy executor killed it; observe
    assert sim.attempts["exec1/a/1"].phase is AttemptPhase.FAILED  # type: ignore[comparison-overlap]  # mypy keeps the narrowing across sim.round()
    assert sim.attempts["exec1/a/1"].error is not None
    assert sim.attempts["exec1/a/1"].error.code == "Timeout"
    assert sim.nodes["a"].attempt == 2  # retried


def test_fail_fast_aborts_running_siblings_then_fails() -> None:
    sim = sim_for({"a": [], "b": [], "c": ["a", "b"]})
    sim.round()
    sim.fail("exec1/a/1")
    d = sim.round()
    assert [a.attempt_id for a in d.actions if isinstance(a, Abort)] == ["exec1/b/1"]
    assert sim.node_phase("b") is NodePhase.ABORTED
    assert sim.execution.phase is ExecutionPhase.RUNNING, "must wait until the killed attempt is gone"
    sim.round()
    assert sim.execution.phase is ExecutionPhase.FAILED  # type: ignore[comparison-overlap]  # mypy keeps the narrowing across sim.round()
    assert sim.node_phase("c") is NodePhase.PENDING
    assert sim.world["exec1/b/1"].killed


def test_finish_runnable_skips_downstream_and_finishes_other_branches() -> None:
    sim = sim_for({"a": [], "b": [], "c": ["a"], "d": ["b"]}, policy=FailurePolicy.FINISH_RUNNABLE)
    sim.round()
    sim.fail("exec1/a/1")
    sim.round()
    assert sim.node_phase("c") is NodePhase.SKIPPED
    assert sim.execution.phase is ExecutionPhase.RUNNING
    run_to_end(sim)
    assert sim.node_phase("d") is NodePhase.SUCCEEDED
    assert sim.execution.phase is ExecutionPhase.FAILED  # type: ignore[comparison-overlap]  # mypy keeps the narrowing across sim.round()
    assert sim.execution.error is not None and sim.execution.error.node == "a"


def test_abort_requested_kills_attempts_and_ends_aborted() -> None:
    sim = sim_for({"a": [], "b": []})
    sim.round()
    sim.execution = sim.execution.evolve(abort_reason="user said so")
    sim.crash()  # the controller reloads after the user's change bumped the version
    d = sim.round()
    assert sorted(a.attempt_id for a in d.actions if isinstance(a, Abort)) == ["exec1/a/1", "exec1/b/1"]
    assert sim.execution.phase is ExecutionPhase.RUNNING
    sim.round()
    assert sim.execution.phase is ExecutionPhase.ABORTED  # type: ignore[comparison-overlap]  # mypy keeps the narrowing across sim.round()
    assert {sim.node_phase("a"), sim.node_phase("b")} == {NodePhase.ABORTED}
    assert {a.phase for a in sim.attempts.values()} == {AttemptPhase.ABORTED}


def test_abort_of_an_attempt_that_still_runs_is_requested_again() -> None:
    sim = sim_for({"a": []})
    sim.round()
    sim.execution = sim.execution.evolve(abort_reason="stop")
    sim.crash()
    sim.round()
    sim.world["exec1/a/1"].status = Observed.RUNNING  # the kill has not landed yet
    sim.pending_hints.add("exec1/a/1")
    d = sim.round()
    assert [a.attempt_id for a in d.actions if isinstance(a, Abort)] == ["exec1/a/1"]
    assert d.requeue_after is not None
    assert sim.execution.phase is ExecutionPhase.RUNNING


def test_max_parallelism_caps_attempts_in_flight() -> None:
    edges: dict[str, list[str]] = {f"n{i}": [] for i in range(10)}
    sim = sim_for(edges, max_parallelism=3)
    d = sim.round()
    assert len(launches(d)) == 3
    sim.succeed("exec1/n0/1")
    d = sim.round()
    assert launches(d) == ["exec1/n3/1"]
    run_to_end(sim)
    assert sim.execution.phase is ExecutionPhase.SUCCEEDED


def test_execution_config_parallelism_overrides_the_spec() -> None:
    spec = dag_spec({f"n{i}": [] for i in range(5)}, max_parallelism=4)
    sim = Sim(spec, execution_for(spec, max_parallelism=2))
    assert len(launches(sim.round())) == 2


def test_lost_launch_is_relaunched_under_the_same_attempt_id() -> None:
    sim = sim_for({"a": []})
    d = sim.round()
    sim.world.clear()  # crashed between recording intent and launching
    sim.started.clear()
    d = sim.round(full=True)
    assert launches(d) == ["exec1/a/1"]


def test_late_observation_of_a_settled_attempt_changes_nothing() -> None:
    sim = sim_for({"a": [], "b": []})
    sim.round()
    sim.succeed("exec1/a/1")
    sim.round()
    before = dict(sim.nodes)
    sim.pending_hints.add("exec1/a/1")  # duplicated notification
    d = sim.round()
    assert d.nodes == () and d.attempts == ()
    assert sim.nodes["a"] == before["a"]


def test_reconcile_is_deterministic_for_the_same_state() -> None:
    spec = dag_spec(DIAMOND)
    state = ExecutionState.build(spec, execution_for(spec), [], [])
    d1 = reconcile(state, {}, 5.0)
    d2 = reconcile(state, {}, 5.0)
    assert d1 == d2


def test_terminal_execution_yields_an_empty_decision() -> None:
    spec = dag_spec(CHAIN)
    ex = execution_for(spec).evolve(phase=ExecutionPhase.SUCCEEDED)
    d = reconcile(ExecutionState.build(spec, ex, [], []), {}, 1.0)
    assert not d.writes and d.actions == ()


def test_unknown_running_attempt_is_a_lost_process() -> None:
    sim = sim_for({"a": []})
    sim.round()
    sim.pending_hints.add("exec1/a/1")
    sim.round()
    del sim.world["exec1/a/1"]
    sim.round(full=True)
    att = sim.attempts["exec1/a/1"]
    assert att.phase is AttemptPhase.FAILED and att.error is not None and att.error.code == "ProcessLost"
    assert sim.nodes["a"].system_failures == 1


def test_backoff_is_exponential_with_bounded_jitter() -> None:
    cfg = ReconcileConfig(backoff_base_s=1.0, backoff_max_s=30.0)
    delays = [backoff_delay(k, "e/n/1", cfg) for k in range(1, 8)]
    raw = [1, 2, 4, 8, 16, 30, 30]
    for d, r in zip(delays, raw, strict=True):
        assert 0.5 * r <= d <= r
    assert backoff_delay(3, "e/n/1", cfg) == backoff_delay(3, "e/n/1", cfg)


# ---------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------


@st.composite
def dags(draw: st.DrawFn) -> dict[str, list[str]]:
    n = draw(st.integers(1, 9))
    edges: dict[str, list[str]] = {}
    names = [f"n{i}" for i in range(n)]
    for i, name in enumerate(names):
        ups = draw(st.lists(st.sampled_from(names[:i]), unique=True, max_size=3)) if i else []
        edges[name] = ups
    return edges


STEP = st.sampled_from(
    ["finish_one", "finish_all", "fail_user", "fail_system", "crash", "drop_hints", "dup_hint", "resync", "tick"]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edges=dags(), steps=st.lists(STEP, max_size=60), data=st.data())
def test_any_interleaving_converges_to_the_fault_free_outputs(
    edges: dict[str, list[str]], steps: list[str], data: st.DataObject
) -> None:
    """Crashes, lost and duplicated hints and failures within budget never change the result."""
    sim = sim_for(edges, retries=2, cfg=ReconcileConfig(backoff_base_s=0.0, max_system_retries=2))
    user_fails: dict[str, int] = {}
    sys_fails: dict[str, int] = {}
    for step in steps:
        running = sim.running()
        if step == "finish_one" and running:
            sim.succeed(data.draw(st.sampled_from(running)))
        elif step == "finish_all":
            for aid in running:
                sim.succeed(aid)
        elif step in ("fail_user", "fail_system") and running:
            aid = data.draw(st.sampled_from(running))
            node = aid.split("/")[1]
            budget = user_fails if step == "fail_user" else sys_fails
            if budget.get(node, 0) < 2:  # stay within the retry budgets: the run must still succeed
                budget[node] = budget.get(node, 0) + 1
                sim.fail(aid, ErrorKind.USER if step == "fail_user" else ErrorKind.SYSTEM)
        elif step == "crash":
            sim.crash()
        elif step == "drop_hints":
            sim.pending_hints.clear()
        elif step == "dup_hint" and sim.world:
            sim.pending_hints.add(data.draw(st.sampled_from(sorted(sim.world))))
        elif step == "tick":
            sim.now += 1.0
        sim.round(full=step == "resync")
        check_invariants(sim)
    # then let it run fault-free, with periodic resyncs covering lost hints
    for i in range(200):
        if sim.execution.phase.is_terminal:
            break
        for aid in sim.running():
            sim.succeed(aid)
        sim.round(full=i % 3 == 0)
        check_invariants(sim)
    assert sim.execution.phase is ExecutionPhase.SUCCEEDED
    last = list(edges)[-1]
    assert sim.execution.outputs == {"o0": expected_value(edges, last)}
    assert len(sim.started) == len(set(sim.started))


def check_invariants(sim: Sim) -> None:
    live_per_node: dict[str, int] = {}
    for a in sim.attempts.values():
        if not a.phase.is_terminal:
            live_per_node[a.node_id] = live_per_node.get(a.node_id, 0) + 1
    assert all(v <= 1 for v in live_per_node.values()), "two live attempts for one node"
    for node in sim.nodes.values():
        if node.attempt:
            assert f"{sim.execution.id}/{node.node_id}/{node.attempt}" in sim.attempts
    # the cached state's indexes equal a fresh rebuild from the stored rows
    if sim.state is not None:
        fresh = ExecutionState.build(sim.spec, sim.execution, sim.nodes.values(), sim.attempts.values())
        assert fresh.ready.keys() == sim.state.ready.keys()
        assert fresh.active.keys() == sim.state.active.keys()
        assert (fresh.terminal, fresh.succeeded) == (sim.state.terminal, sim.state.succeeded)
        assert fresh.live_attempts.keys() == sim.state.live_attempts.keys()
        assert fresh.retrying.keys() == sim.state.retrying.keys()
        assert fresh.timed.keys() == sim.state.timed.keys()


@settings(max_examples=60, deadline=None)
@given(edges=dags(), limit=st.integers(1, 4))
def test_parallelism_limit_is_never_exceeded(edges: dict[str, list[str]], limit: int) -> None:
    spec = dag_spec(edges)
    sim = Sim(spec, execution_for(spec).evolve(config=ExecutionConfig(max_parallelism=limit)))
    for _ in range(100):
        if sim.execution.phase.is_terminal:
            break
        sim.round()
        live = [a for a in sim.attempts.values() if not a.phase.is_terminal]
        assert len(live) <= limit
        for aid in sim.running()[:1]:
            sim.succeed(aid)
    assert sim.execution.phase is ExecutionPhase.SUCCEEDED


def test_observation_for_a_pending_attempt_is_no_news() -> None:
    sim = sim_for({"a": []})
    sim.round()
    state = sim.load()
    d = reconcile(state, {"exec1/a/1": AttemptObservation(Observed.PENDING)}, sim.now)
    assert not d.writes and d.actions == ()


def test_branch_decides_in_the_round_its_operand_arrives_and_skips_the_other_case() -> None:
    from tests.e2e import wf_control as wc

    spec = wc.gatekeeper.compile()
    ex = execution_for(spec).evolve(inputs={"x": 95})
    sim = Sim(spec, ex)
    sim.round()
    sim.succeed(f"{ex.id}/score/1")  # the toy executor outputs the sum of the inputs: 95
    d = sim.round()
    assert sim.nodes["quality"].outputs == {"case": 0}
    assert sim.node_phase("retrain") is NodePhase.SKIPPED and sim.nodes["retrain"].detail == {"not_taken": True}
    assert launches(d) == [f"{ex.id}/deploy/1"]
    sim.succeed(f"{ex.id}/deploy/1")
    sim.round()
    assert sim.execution.phase is ExecutionPhase.SUCCEEDED
    assert sim.execution.outputs == {"o0": 95}  # the taken case's output, through the select binding
