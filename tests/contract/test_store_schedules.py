"""The Store contract for launch plan activation and the record of fired schedule ticks.

Each test runs once per backend (see conftest.py).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from setpoint.core.model import Event, EventKind, ExecutionMode, ExecutionRecord
from setpoint.core.phases import ExecutionPhase
from setpoint.errors import NotFoundError, SetpointError
from setpoint.ports import RegisteredEntity, Store, TickRecord

from .conftest import BACKENDS, StoreFactory
from .test_store_catalog import HOSTILE


def launchplan(name: str = "nightly", version: str = "v1", project: str = "proj") -> RegisteredEntity:
    return RegisteredEntity(
        kind="launchplan",
        project=project,
        name=name,
        version=version,
        digest="d-" + version,
        spec_digest="s" * 64,
        code_digest="c" * 64,
        body={"schedule": {"kind": "rate", "seconds": 60}},
        created_at=1.0,
    )


def execution(eid: str, project: str = "proj") -> ExecutionRecord:
    return ExecutionRecord(
        id=eid,
        project=project,
        workflow="wf",
        spec_digest="s" * 64,
        code_digest="c" * 64,
        inputs={"n": 1},
        created_at=5.0,
        updated_at=5.0,
        mode=ExecutionMode.SCHEDULED,
    )


def tick(at: int, eid: str, version: str = "v1", name: str = "nightly", project: str = "proj") -> TickRecord:
    return TickRecord(project, name, at, version, eid, 5.0)


def fire(store: Store, at: int, eid: str, **kw: Any) -> bool:
    event = Event(eid, 5.0, EventKind.EXECUTION, ExecutionPhase.QUEUED.value, message="scheduled")
    return store.fire_tick(tick(at, eid, **kw), execution(eid, kw.get("project", "proj")), [event])


def test_at_most_one_version_is_active(store: Store) -> None:
    for v in ("v1", "v2"):
        store.register_entity(launchplan(version=v))
    assert store.get_activation("proj", "nightly") is None
    first = store.activate_launchplan("proj", "nightly", "v1", 10.0)
    assert (first.version, first.activated_at, first.last_tick) == ("v1", 10.0, None)
    again = store.activate_launchplan("proj", "nightly", "v1", 20.0)
    assert again.activated_at == 10.0  # activating the active version changes nothing
    second = store.activate_launchplan("proj", "nightly", "v2", 30.0)
    assert (second.version, second.activated_at) == ("v2", 30.0)
    assert [(a.name, a.version) for a in store.list_activations()] == [("nightly", "v2")]
    assert store.deactivate_launchplan("proj", "nightly")
    assert not store.deactivate_launchplan("proj", "nightly")
    assert store.get_activation("proj", "nightly") is None
    assert store.list_activations() == []


def test_only_registered_launch_plans_can_be_activated(store: Store) -> None:
    store.register_entity(launchplan())
    with pytest.raises(NotFoundError, match="launch plan 'nightly' version 'v9' is not registered in project 'proj'"):
        store.activate_launchplan("proj", "nightly", "v9", 1.0)
    with pytest.raises(NotFoundError, match="launch plan 'other' is not registered"):
        store.deactivate_launchplan("proj", "other")
    with pytest.raises(NotFoundError):
        store.activate_launchplan("elsewhere", "nightly", "v1", 1.0)
    assert store.list_activations() == []


def test_activations_are_listed_by_project_then_name(store: Store) -> None:
    for project, name in (("b", "x"), ("a", "z"), ("a", "y"), ("a", HOSTILE[0])):
        store.register_entity(launchplan(name, project=project))
        store.activate_launchplan(project, name, "v1", 1.0)
    assert [(a.project, a.name) for a in store.list_activations()] == [
        ("a", HOSTILE[0]),
        ("a", "y"),
        ("a", "z"),
        ("b", "x"),
    ]
    assert [a.name for a in store.list_activations("b")] == ["x"]


def test_a_tick_fires_once_with_its_execution(store: Store) -> None:
    store.register_entity(launchplan())
    store.activate_launchplan("proj", "nightly", "v1", 1.0)
    assert fire(store, 120, "s00000000001")
    assert store.get_execution("s00000000001").mode == "scheduled"
    assert [e.message for e in store.events("s00000000001")] == ["scheduled"]
    # The same tick again, even naming another execution: nothing is recorded or created.
    assert not fire(store, 120, "s00000000002")
    with pytest.raises(NotFoundError):
        store.get_execution("s00000000002")
    assert [(t.tick, t.execution_id) for t in store.list_ticks("proj", "nightly")] == [(120, "s00000000001")]
    act = store.get_activation("proj", "nightly")
    assert act is not None and act.last_tick == 120


def test_an_existing_execution_stands_when_its_tick_is_recorded(store: Store) -> None:
    """Execution creation is idempotent on the deterministic id: the tick is recorded, nothing is duplicated."""
    store.register_entity(launchplan())
    store.activate_launchplan("proj", "nightly", "v1", 1.0)
    store.create_execution(execution("s00000000003"), [Event("s00000000003", 5.0, EventKind.EXECUTION, "QUEUED", message="x")])
    assert fire(store, 180, "s00000000003")
    assert [e.message for e in store.events("s00000000003")] == ["x"]
    assert [t.tick for t in store.list_ticks("proj", "nightly")] == [180]


def test_only_the_active_version_fires(store: Store) -> None:
    for v in ("v1", "v2"):
        store.register_entity(launchplan(version=v))
    assert not fire(store, 60, "s00000000004")  # not active at all
    store.activate_launchplan("proj", "nightly", "v2", 1.0)
    assert not fire(store, 60, "s00000000004", version="v1")  # replaced since the scheduler read it
    assert fire(store, 60, "s00000000004", version="v2")
    store.deactivate_launchplan("proj", "nightly")
    assert not fire(store, 120, "s00000000005", version="v2")
    with pytest.raises(NotFoundError):
        store.get_execution("s00000000005")


def test_ticks_are_listed_newest_first_and_kept_per_launch_plan(store: Store) -> None:
    for name in ("nightly", "hourly"):
        store.register_entity(launchplan(name))
        store.activate_launchplan("proj", name, "v1", 1.0)
    big = 4_102_444_800  # 2100-01-01: ticks are 64-bit
    for i, at in enumerate((60, big, 120)):
        assert fire(store, at, f"s0000000010{i}")
    assert fire(store, 60, "s00000000200", name="hourly")
    assert [t.tick for t in store.list_ticks("proj", "nightly")] == [big, 120, 60]
    assert [t.tick for t in store.list_ticks("proj", "nightly", limit=1)] == [big]
    assert [t.tick for t in store.list_ticks("proj", "hourly")] == [60]
    lasts = {a.name: a.last_tick for a in store.list_activations("proj")}
    assert lasts == {"nightly": big, "hourly": 60}
    got = store.list_ticks("proj", "nightly")[0]
    assert (got.project, got.launchplan, got.version, got.execution_id, got.fired_at) == (
        "proj",
        "nightly",
        "v1",
        "s00000000101",
        5.0,
    )


def test_a_tick_must_name_the_execution_it_creates(store: Store) -> None:
    store.register_entity(launchplan())
    store.activate_launchplan("proj", "nightly", "v1", 1.0)
    with pytest.raises(Exception, match="names execution"):
        store.fire_tick(tick(60, "s1"), execution("s2"))
    assert store.list_ticks("proj", "nightly") == []


# -- the fake and the real backends agree on random activation and tick operations -------------------

LP_PROJECTS = st.sampled_from(["p", "q"])
LP_NAMES = st.sampled_from(["a", "b"])
LP_VERSIONS = st.sampled_from(["v1", "v2", "v3"])
TICKS = st.sampled_from([60, 120, 180])
TICK_EIDS = st.sampled_from(["s1", "s2", "s3"])  # few ids: creating an execution that exists is exercised


class SchedulesAgree(RuleBasedStateMachine):
    factory: StoreFactory
    backends: tuple[str, ...] = BACKENDS

    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="setpoint-schedules-"))
        self.now = 1.0
        names = ("memory", *[b for b in self.backends if b != "memory"])
        self.stores = [self.factory(name, self.tmp / name) for name in names]

    def teardown(self) -> None:
        for s in self.stores:
            s.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def same(self, op: Callable[[Store], Any]) -> None:
        outcomes = []
        for s in self.stores:
            try:
                outcomes.append(("ok", op(s)))
            except SetpointError as exc:
                outcomes.append((type(exc).__name__, str(exc)))
        assert all(o == outcomes[0] for o in outcomes[1:]), outcomes

    @rule(project=LP_PROJECTS, name=LP_NAMES, version=LP_VERSIONS)
    def register(self, project: str, name: str, version: str) -> None:
        self.same(lambda s: s.register_entity(launchplan(name, version, project))[1])

    @rule(project=LP_PROJECTS, name=LP_NAMES, version=LP_VERSIONS)
    def activate(self, project: str, name: str, version: str) -> None:
        self.now += 1
        self.same(lambda s: s.activate_launchplan(project, name, version, self.now))

    @rule(project=LP_PROJECTS, name=LP_NAMES)
    def deactivate(self, project: str, name: str) -> None:
        self.same(lambda s: s.deactivate_launchplan(project, name))

    @rule(project=LP_PROJECTS, name=LP_NAMES, version=LP_VERSIONS, at=TICKS, eid=TICK_EIDS)
    def fire(self, project: str, name: str, version: str, at: int, eid: str) -> None:
        self.same(lambda s: fire(s, at, eid, version=version, name=name, project=project))

    @invariant()
    def agree(self) -> None:
        self.same(lambda s: s.list_activations())
        for project in ("p", "q"):
            for name in ("a", "b"):
                self.same(lambda s: (s.get_activation(project, name), s.list_ticks(project, name, 5)))  # noqa: B023
        for eid in ("s1", "s2", "s3"):
            self.same(lambda s: s.get_execution(eid))  # noqa: B023


def test_backends_agree_on_random_schedule_operations(
    store_factory: StoreFactory, available_backends: tuple[str, ...]
) -> None:
    machine = type(
        "Machine", (SchedulesAgree,), {"factory": staticmethod(store_factory), "backends": available_backends}
    )
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=30, stateful_step_count=25, deadline=None, suppress_health_check=list(HealthCheck)
        ),
    )
