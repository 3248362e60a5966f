"""The scheduler against real stores (SQLite, in-memory, PostgreSQL) with an injected clock.

Downtime under each catch-up policy, clock jumps, activation rules, a crash around the one write,
and two schedulers racing on one store: every nominal tick gets at most one execution.
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest

from setpoint.errors import StoreError
from setpoint.ports import Store, TickRecord
from setpoint.scheduling.ticks import Cron, FixedRate, Schedule
from setpoint.sdk.launchplan import LaunchPlan
from setpoint.service.scheduler import Scheduler, status, tick_execution_id
from tests.contract.conftest import make_store
from tests.support import pg

from . import wf_scheduled as wf
from .conftest import PROJECT, FakeClock, full, register

pytestmark = pytest.mark.timeout(120)

HOUR = 3600
T0 = 1_700_000_000 - 1_700_000_000 % HOUR  # a whole hour (UTC)


def plan(schedule: Schedule, name: str = "hourly") -> LaunchPlan:
    """A launch plan of the test workflow; its datetime input has a default (no kickoff input)."""
    return LaunchPlan(
        wf.report, name, default_inputs={"when": dt.datetime(2000, 1, 1, tzinfo=dt.UTC)}, schedule=schedule
    )


def activate(store: Store, lp: LaunchPlan, at: float, version: str = "v1") -> None:
    register(store, lp, version)
    store.activate_launchplan(PROJECT, lp.name, version, at)


def fired_ticks(store: Store, name: str = "hourly") -> list[int]:
    return sorted(t.tick for t in store.list_ticks(PROJECT, name, 1000))


def scheduled_executions(store: Store) -> list[str]:
    from setpoint.ports import ExecutionFilter

    return sorted(r.id for r in store.list_executions(ExecutionFilter(limit=1000)) if r.mode == "scheduled")


@pytest.mark.parametrize(
    ("policy", "want"),
    [
        ("all", [1, 2, 3, 4, 5]),  # every missed hour
        ("latest", [1, 5]),  # the newest missed one only
        ("none", [1]),  # none of them (5 was 20 minutes old when the scheduler came back)
    ],
)
def test_downtime_across_several_ticks(store: Store, policy: str, want: list[int]) -> None:
    activate(store, plan(Cron("0 * * * *", catch_up=policy)), T0 + 60)
    clock = FakeClock(T0 + HOUR + 5)
    s = Scheduler(store, clock=clock, grace=60)
    assert [f.tick for f in s.run_once()] == [T0 + HOUR]
    clock.t = T0 + 5 * HOUR + 20 * 60  # down for four ticks
    s.run_once()
    assert fired_ticks(store) == [T0 + h * HOUR for h in want]
    clock.t = T0 + 6 * HOUR + 1  # back to normal: the next tick fires under every policy
    assert [f.tick for f in s.run_once()] == [T0 + 6 * HOUR]
    assert s.run_once() == []
    ids = [tick_execution_id(PROJECT, "hourly", t) for t in fired_ticks(store)]
    assert scheduled_executions(store) == sorted(ids)


def test_each_execution_gets_the_launch_plan_inputs_and_its_tick_time(store: Store) -> None:
    activate(store, wf.nightly, T0)
    clock = FakeClock(T0 + 2 * 86400)
    (fired,) = Scheduler(store, clock=clock).run_once()  # latest: the newest 03:00 in Berlin
    when = dt.datetime.fromtimestamp(fired.tick, dt.UTC)
    assert when.astimezone(dt.timezone(dt.timedelta(hours=1))).hour == 3  # November: CET
    rec = store.get_execution(fired.execution_id)
    assert rec.inputs == {"when": {"$datetime": when.isoformat()}, "label": "nightly"}
    assert (rec.workflow, rec.mode, rec.project) == ("report", "scheduled", PROJECT)
    assert "launch plan 'nightly' version 'v1'" in (store.events(rec.id)[0].message or "")


def test_a_clock_jump_forward_then_back_never_fires_a_tick_twice(store: Store) -> None:
    activate(store, plan(FixedRate(minutes=10, catch_up="all")), T0)
    clock = FakeClock(T0 + 601)
    s = Scheduler(store, clock=clock)
    s.run_once()
    clock.t = T0 + 3 * HOUR  # forward three hours: 17 more ticks, oldest first
    assert len(s.run_once()) == 17
    for back in (T0 + HOUR, T0 + 601, T0 - 5 * HOUR, T0 + 3 * HOUR):  # back, further back, then where it was
        clock.t = back
        assert s.run_once() == []
    clock.t = T0 + 3 * HOUR + 600
    assert [f.tick for f in s.run_once()] == [T0 + 3 * HOUR + 600]
    ticks = fired_ticks(store)
    assert ticks == [T0 + 600 * k for k in range(1, 20)]
    assert len(scheduled_executions(store)) == len(ticks)


def test_only_the_active_version_fires_and_never_for_ticks_before_its_activation(store: Store) -> None:
    lp = plan(FixedRate(minutes=10, catch_up="all"))
    register(store, lp, "v1")
    register(store, lp, "v2")
    clock = FakeClock(T0 + HOUR)
    s = Scheduler(store, clock=clock)
    assert s.run_once() == []  # registered, not active
    store.activate_launchplan(PROJECT, "hourly", "v1", T0 + HOUR)
    assert s.run_once() == []  # nothing from before the activation
    clock.t = T0 + HOUR + 601
    assert [(f.version, f.tick) for f in s.run_once()] == [("v1", T0 + HOUR + 600)]
    store.activate_launchplan(PROJECT, "hourly", "v2", clock.t)
    clock.t = T0 + HOUR + 1201
    assert [(f.version, f.tick) for f in s.run_once()] == [("v2", T0 + HOUR + 1200)]
    store.deactivate_launchplan(PROJECT, "hourly")
    clock.t = T0 + 2 * HOUR + 1
    assert s.run_once() == []
    store.activate_launchplan(PROJECT, "hourly", "v2", clock.t)  # the deactivated hour is not caught up
    clock.t = T0 + 2 * HOUR + 601
    assert [f.tick for f in s.run_once()] == [T0 + 2 * HOUR + 600]


def test_a_launch_plan_without_schedule_or_with_a_broken_version_is_left_alone(store: Store) -> None:
    activate(store, LaunchPlan(wf.report, "manual", fixed_inputs={"when": dt.datetime(2024, 1, 1)}), T0)
    activate(store, plan(FixedRate(minutes=10)), T0)
    s = Scheduler(store, clock=FakeClock(T0 + 601))
    assert [f.launchplan for f in s.run_once()] == ["hourly"]
    info = status(store, PROJECT, "manual", T0)
    assert (info["active_version"], info["schedule"], info["next_ticks"]) == ("v1", None, [])


class Ambiguous(Exception):
    pass


class CrashingStore:
    """Raises from `fire_tick` before or after its transaction: a crash or a commit whose answer was lost."""

    def __init__(self, inner: Store, when: str) -> None:
        self.inner = inner
        self.when = when

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def fire_tick(self, *args: object) -> bool:
        if self.when == "before":
            raise StoreError("the store went away")
        self.inner.fire_tick(*args)  # type: ignore[arg-type]
        raise StoreError("the connection was lost while committing")


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_crash_around_firing_a_tick_never_fires_it_twice(store: Store, when: str) -> None:
    activate(store, plan(FixedRate(minutes=10, catch_up="all")), T0)
    clock = FakeClock(T0 + 601)
    Scheduler(CrashingStore(store, when), clock=clock).run_once()  # type: ignore[arg-type]
    assert fired_ticks(store) == ([] if when == "before" else [T0 + 600])
    again = Scheduler(store, clock=clock).run_once()  # a new scheduler after the crash
    assert [f.tick for f in again] == ([T0 + 600] if when == "before" else [])
    assert scheduled_executions(store) == [tick_execution_id(PROJECT, "hourly", T0 + 600)]


def test_the_execution_id_is_derived_from_the_tick() -> None:
    a = tick_execution_id("p", "lp", 60)
    assert a == tick_execution_id("p", "lp", 60)
    assert (
        len({a, tick_execution_id("p", "lp", 120), tick_execution_id("p", "lp2", 60), tick_execution_id("q", "lp", 60)})
        == 4
    )
    assert a[0] == "s" and len(a) == 12 and a.isalnum()


# -- two schedulers racing on one store ------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
@pytest.mark.timeout(300)
def test_two_schedulers_racing_fire_each_tick_once(backend: str, tmp_path: Path, pg_session_url: str | None) -> None:
    if backend == "postgres" and pg_session_url is None:
        pg.skip_or_fail(pg.server_problem() or "no PostgreSQL test database")
    first = make_store(backend, tmp_path, pg_session_url)
    if backend == "sqlite":
        second: Store = make_store(backend, tmp_path)  # the same file, its own connections
    else:
        from setpoint.adapters.store.postgres import PostgresStore

        assert pg_session_url is not None
        second = PostgresStore(pg_session_url)
    rounds = 60 if full() else 20
    try:
        for policy in ("all", "latest"):
            name = f"race-{policy}"
            activate(first, plan(FixedRate(seconds=1, catch_up=policy), name), T0)
            clocks = [FakeClock(T0), FakeClock(T0)]
            schedulers = [Scheduler(s, clock=c, batch=10) for s, c in zip((first, second), clocks, strict=True)]
            created: list[list[int]] = [[], []]
            barrier = threading.Barrier(2)

            def run(i: int) -> None:
                for r in range(rounds):
                    # Skewed clocks: one scheduler is a second behind, and both jump three seconds a round.
                    clocks[i].t = T0 + 3 * (r + 1) - i  # noqa: B023 (read at call time on purpose)
                    barrier.wait()  # noqa: B023
                    created[i] += [f.tick for f in schedulers[i].run_once() if f.created]  # noqa: B023

            threads = [threading.Thread(target=run, args=(i,)) for i in (0, 1)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            ticks: list[TickRecord] = first.list_ticks(PROJECT, name, 10_000)
            by_tick = sorted(t.tick for t in ticks)
            assert by_tick == sorted(set(by_tick))
            assert sorted(created[0] + created[1]) == by_tick  # each fired tick was created exactly once
            ids = [r for r in scheduled_executions(first) if r in {t.execution_id for t in ticks}]
            assert len(ids) == len(ticks)
            assert {t.execution_id for t in ticks} == {tick_execution_id(PROJECT, name, t) for t in by_tick}
            if policy == "all":
                assert by_tick == list(range(T0 + 1, T0 + 3 * rounds + 1))
    finally:
        second.close()
        first.close()
