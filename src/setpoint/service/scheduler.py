"""The scheduler: one execution for every due tick of every active launch plan's schedule.

Level-triggered like the controller. A pass reads the active launch plans with the newest tick
fired for each (one query), asks the pure `setpoint.scheduling.ticks.due_ticks` which nominal ticks are due
now under the catch-up policy, and fires each: `Store.fire_tick` records the tick and creates its
execution in one transaction. Nothing is remembered between passes except what the store holds, so
a scheduler killed at any point, restarted after a day, or racing another scheduler on the same
store ends in the same place:

- the execution id is derived from (project, launch plan, tick), so two schedulers (or a retry
  after an ambiguous commit) name the same execution, and its insert is idempotent on that id;
- (project, launch plan, tick) is unique in the record of ticks, so a tick fires at most once,
  whatever any scheduler's clock says;
- only ticks after the activation and after the newest tick fired are candidates, so a clock that
  jumps back fires nothing again.

`Scheduler.run_once` is one pass (what the tests drive with a fake clock); `start` runs passes on
a thread every ``interval`` seconds, as `setpoint server` and `setpoint scheduler` do.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from setpoint.core.executions import new_execution
from setpoint.core.model import Event, ExecutionMode, ExecutionRecord
from setpoint.errors import BlobError, SetpointError, StoreError
from setpoint.ports import Activation, Clock, RegisteredEntity, RegistryStore, ScheduleStore, SystemClock, TickRecord
from setpoint.scheduling.ticks import Schedule, due_ticks, next_ticks, schedule_from_json
from setpoint.service.registry import resolve_inputs
from setpoint.spec.workflow import WorkflowSpec

log = logging.getLogger("setpoint.service.scheduler")

MODE = ExecutionMode.SCHEDULED  # ExecutionRecord.mode of executions the scheduler creates


def tick_execution_id(project: str, launchplan: str, tick: int) -> str:
    """The execution id of one nominal tick: the same in every scheduler, for ever."""
    return "s" + hashlib.sha256(f"{project}\0{launchplan}\0{tick}".encode()).hexdigest()[:11]


def tick_time(tick: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(tick, dt.UTC)


@dataclass(frozen=True, slots=True)
class Fired:
    """One tick a pass fired (``created`` is False when another scheduler fired it first)."""

    project: str
    launchplan: str
    version: str
    tick: int
    execution_id: str
    created: bool


@dataclass(frozen=True, slots=True)
class _Plan:
    entity: RegisteredEntity
    spec: WorkflowSpec
    schedule: Schedule | None


def load_plan(store: RegistryStore, project: str, name: str, version: str) -> _Plan:
    """A registered launch plan version with its pinned spec and its schedule (validated)."""
    entity = store.get_entity("launchplan", project, name, version)
    spec = WorkflowSpec.from_json(json.loads(store.get_spec(entity.spec_digest)))
    where = f"launch plan '{name}' version '{version}'"
    return _Plan(entity, spec, schedule_from_json(entity.body.get("schedule"), where))


def scheduled_execution(plan: _Plan, tick: int, now: float) -> tuple[ExecutionRecord, Event]:
    """The execution one tick starts: the launch plan's inputs, plus the tick time if it asks for it."""
    e = plan.entity
    given: dict[str, Any] = {}
    if plan.schedule is not None and plan.schedule.kickoff_time_input_arg:
        given[plan.schedule.kickoff_time_input_arg] = tick_time(tick).isoformat()
    where = f"launch plan '{e.name}' version '{e.version}', tick {tick_time(tick).isoformat()}"
    inputs = resolve_inputs(plan.spec.interface, given, where, e.body.get("default_inputs"), e.body.get("fixed_inputs"))
    message = (
        f"created by the schedule of launch plan '{e.name}' version '{e.version}' "
        f"for tick {tick_time(tick).isoformat()}"
    )
    return new_execution(
        tick_execution_id(e.project, e.name, tick),
        plan.spec,
        project=e.project,
        code_digest=e.code_digest,
        inputs=inputs,
        now=now,
        mode=MODE,
        message=message,
        spec_digest=e.spec_digest,
    )


class Scheduler:
    """Fires due ticks of every active launch plan in ``store``; see the module docstring."""

    def __init__(
        self,
        store: ScheduleStore,
        *,
        clock: Clock | None = None,
        interval: float = 1.0,
        grace: float = 60.0,
        batch: int = 100,
        on_created: Callable[[str], None] | None = None,
    ) -> None:
        self.store = store
        self.clock = clock or SystemClock()
        self.interval = interval
        self.grace = grace  # how late a tick may be seen and still fire under catch_up="none"
        self.batch = batch  # ticks per launch plan per pass under catch_up="all"
        self.on_created = on_created  # e.g. the controller's submit: run it now, not at its next poll
        self._plans: dict[tuple[str, str, str], _Plan] = {}  # registered versions never change
        self._broken: set[tuple[str, str, str]] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- one pass ---------------------------------------------------------------------------------
    def run_once(self) -> list[Fired]:
        """Fire whatever is due now; errors of one launch plan are logged and do not stop the others."""
        fired: list[Fired] = []
        for act in self.store.list_activations():
            try:
                fired += self._fire_due(act)
            except SetpointError as e:
                log.warning("scheduler: launch plan %r of project %r: %s", act.name, act.project, e)
        return fired

    def _plan(self, act: Activation) -> _Plan | None:
        key = (act.project, act.name, act.version)
        if key in self._broken:
            return None
        plan = self._plans.get(key)
        if plan is None:
            try:
                plan = load_plan(self.store, *key)
            except (StoreError, BlobError):  # trouble reaching state: try again next pass
                raise
            except SetpointError as e:
                self._broken.add(key)
                log.error("scheduler: cannot schedule launch plan %r version %r: %s", act.name, act.version, e)
                return None
            self._plans[key] = plan
        return plan

    def _fire_due(self, act: Activation) -> list[Fired]:
        plan = self._plan(act)
        if plan is None or plan.schedule is None:
            return []
        now = self.clock.now()
        due = due_ticks(
            plan.schedule,
            activated_at=act.activated_at,
            last_fired=act.last_tick,
            now=now,
            grace=self.grace,
            limit=self.batch,
        )
        if due.skipped:
            log.info("scheduler: launch plan %r: missed ticks skipped (catch_up=%r)", act.name, plan.schedule.catch_up)
        out = []
        for tick in due.fire:
            record, event = scheduled_execution(plan, tick, now)
            tick_row = TickRecord(act.project, act.name, tick, act.version, record.id, now)
            created = self.store.fire_tick(tick_row, record, [event])
            out.append(Fired(act.project, act.name, act.version, tick, record.id, created))
            if created:
                log.info("scheduler: launch plan %r tick %s: execution %s", act.name, tick_time(tick), record.id)
                if self.on_created is not None:
                    self.on_created(record.id)
        return out

    # -- the loop ---------------------------------------------------------------------------------
    def start(self) -> Scheduler:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="setpoint-scheduler", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def run_forever(self) -> None:
        """Passes until `stop` (for `setpoint scheduler`, on the calling thread)."""
        self._loop()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except SetpointError as e:  # the store is down: the next pass tries again
                log.warning("scheduler: pass failed: %s", e)
            except Exception:  # a bug must not silently end scheduling
                log.exception("scheduler: pass failed")
            self._stop.wait(self.interval)


# -- what `launchplan get` / `ls` and the API show ---------------------------------------------------


def status(store: ScheduleStore, project: str, name: str, now: float, upcoming: int = 5) -> dict[str, Any]:
    """A launch plan's schedule, active version, next ticks and the ticks fired most recently."""
    latest = store.get_entity("launchplan", project, name)
    act = store.get_activation(project, name)
    shown = store.get_entity("launchplan", project, name, act.version) if act is not None else latest
    schedule = schedule_from_json(shown.body.get("schedule"), f"launch plan '{name}' version '{shown.version}'")
    nxt: list[int] = []
    if act is not None and schedule is not None:
        after = max(now, act.activated_at, act.last_tick or 0)
        nxt = next_ticks(schedule, after, upcoming)
    ticks = store.list_ticks(project, name, 10)
    return {
        "project": project,
        "name": name,
        "latest_version": latest.version,
        "active_version": act.version if act is not None else None,
        "activated_at": act.activated_at if act is not None else None,
        "schedule": None if schedule is None else schedule.to_json(),
        "schedule_text": None if schedule is None else schedule.describe(),
        "next_ticks": [tick_time(t).isoformat() for t in nxt],
        "recent_ticks": [
            {
                "tick": tick_time(t.tick).isoformat(),
                "version": t.version,
                "execution_id": t.execution_id,
                "fired_at": t.fired_at,
            }
            for t in ticks
        ],
    }


# -- activating a version: what the embedded client and the API both do ------------------------------


def activate(store: ScheduleStore, clock: Clock, project: str, name: str, version: str | None = None) -> dict[str, Any]:
    """Make ``version`` (default: the latest) the one active version of launch plan ``name``."""
    version = version or store.get_entity("launchplan", project, name).version
    now = clock.now()
    store.activate_launchplan(project, name, version, now)
    return status(store, project, name, now)


def deactivate(store: ScheduleStore, clock: Clock, project: str, name: str) -> dict[str, Any]:
    """No version of launch plan ``name`` is active any more: its schedule stops firing."""
    store.deactivate_launchplan(project, name)
    return status(store, project, name, clock.now())


def active_statuses(store: ScheduleStore, clock: Clock, project: str) -> list[dict[str, Any]]:
    """`status` of every launch plan of ``project`` that has an active version."""
    now = clock.now()
    return [status(store, project, a.name, now) for a in store.list_activations(project)]
