"""The Python client: create executions, wait for them, read their status, outputs, logs and history.

`Client` is the programmatic front door and what the CLI is built on. In embedded mode it opens
the SQLite store under the setpoint home and can host a controller in-process (``with
Client() as c: c.run(wf, n=10)``); any other process running a controller on the same home —
`setpoint controller` — makes progress on the same executions.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from setpoint.adapters.bundle import BundleCache
from setpoint.adapters.bundle import store as store_bundle
from setpoint.client.compose import check_executors, open_store
from setpoint.client.prepare import capture_registration, prepare_run
from setpoint.config.settings import Settings
from setpoint.core.graph import Graph
from setpoint.core.model import (
    CatalogEntry,
    Event,
    ExecutionConfig,
    ExecutionRecord,
    NodeRecord,
)
from setpoint.core.phases import ExecutionPhase
from setpoint.core.recovery import PlanItem
from setpoint.errors import InputError, NotFoundError, SetpointError, UserError
from setpoint.ports import Clock, ExecutionFilter, SystemClock
from setpoint.sdk.workflow import Workflow
from setpoint.service import catalog, executions, inspect
from setpoint.service.inspect import NodeView
from setpoint.service.lineage import Consumer, LineageNode
from setpoint.service.lineage import consumers as lineage_consumers
from setpoint.service.lineage import upstream as lineage_upstream
from setpoint.service.registry import fill_defaults
from setpoint.spec.workflow import ApproveGate, WorkflowSpec

if typing.TYPE_CHECKING:
    from setpoint.controller.controller import Controller
    from setpoint.service.follow import LogChunk
    from setpoint.service.logs import AttemptLog
    from setpoint.service.registry import Registered


__all__ = ["Client", "NodeView", "open_store"]  # NodeView and open_store: where callers found them before


class Client:
    def __init__(
        self, settings: Settings | None = None, *, home: str | Path | None = None, clock: Clock | None = None
    ) -> None:
        from setpoint.adapters.blobs import open_blob_store

        self.settings = settings or Settings.from_env(home)
        self.clock: Clock = clock or SystemClock()  # every time this client records comes from here
        self.settings.home.mkdir(parents=True, exist_ok=True)
        self.store = open_store(self.settings)
        self.blobs = open_blob_store(self.settings.blob_location)
        self.bundles = BundleCache(self.settings.bundles_root, self.blobs)
        self._controller: Controller | None = None
        self._executor: Any = None
        self._ray: Any = None

    # -- lifecycle ----------------------------------------------------------------------------
    def start_controller(self, *, own_only: bool = False) -> Controller:
        """Host a controller in this process: it takes over every unfinished execution it finds, or,
        ``own_only``, only the executions this client creates (and their children), so that a
        process that exits when its own execution ends strands nothing (`setpoint run`)."""
        if self._controller is None:
            from setpoint.adapters.executor.local import LocalExecutor
            from setpoint.controller.controller import Controller

            self._executor = LocalExecutor(
                self.settings.attempts_root,
                mode=self.settings.executor_mode,
                max_workers=self.settings.executor_slots,
            )
            executors: dict[str, Any] = {"local": self._executor}
            if self.settings.ray_address:  # connects to the cluster on first use, not here
                from setpoint.adapters.executor.ray import RayExecutor

                pending = self.settings.ray_pending_timeout_s
                self._ray = executors["ray"] = RayExecutor(
                    self.settings.ray_address,
                    self.settings.attempts_root,
                    check_feasible=pending is None,
                    pending_timeout=pending,
                )
            self._controller = Controller(self.store, executors, self.bundles, self.settings, own_only=own_only).start()
        return self._controller

    @property
    def controller(self) -> Controller | None:
        return self._controller

    def close(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
        if self._executor is not None:
            self._executor.close()
            self._executor = None
        if self._ray is not None:
            self._ray.close()
            self._ray = None
        self.store.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- creating executions --------------------------------------------------------------------
    def create_execution(
        self,
        wf: Workflow,
        inputs: Mapping[str, Any] | None = None,
        *,
        literal_inputs: Mapping[str, Any] | None = None,
        project: str | None = None,
        max_parallelism: int = 0,
        overwrite_cache: bool = False,
        executor: str | None = None,
    ) -> str:
        """Compile, snapshot the code, record an immutable execution, and wake the controller.

        ``executor``: where tasks that name no executor run ("local", "ray"); default: the settings'.
        """
        from setpoint.types import LiteralContext

        ctx = LiteralContext(blobs=self.blobs, workdir=None, offload_threshold=self.settings.offload_threshold)
        run = prepare_run(wf, inputs, literal_inputs, ctx)
        spec, bundle = run.spec, run.bundle
        resolved = fill_defaults(spec.interface, run.inputs, f"workflow '{wf.name}'")
        store_bundle(bundle, self.blobs)
        return self._create(
            spec,
            bundle.digest,
            resolved,
            project=project or self.settings.project,
            config=ExecutionConfig(
                max_parallelism=max_parallelism,
                executor=executor or self.settings.default_executor,
                overwrite_cache=overwrite_cache,
            ),
        )

    def _create(
        self,
        spec: WorkflowSpec,
        code_digest: str,
        inputs: dict[str, Any],
        *,
        project: str,
        config: ExecutionConfig,
        message: str | None = None,
    ) -> str:
        check_executors(spec, config.executor, self.settings)
        record = executions.create(
            self.store, self.clock, spec, code_digest, inputs, project=project, config=config, message=message
        )
        self._submit(record.id)
        return record.id

    def _submit(self, execution_id: str) -> None:
        if self._controller is not None:
            self._controller.submit(execution_id)

    # -- registered entities ----------------------------------------------------------------------
    def register(
        self, targets: Sequence[str], *, project: str | None = None, version: str | None = None
    ) -> tuple[str, list[Registered]]:
        """Register every module-level task, workflow and launch plan of ``targets`` (files or packages).

        Returns the version used and, per entity, whether it was new (identical content is a no-op).
        """
        from setpoint.service import registry

        found = registry.discover(targets)
        bundle = capture_registration(found)
        store_bundle(bundle, self.blobs)
        now = self.clock.now()
        project = project or self.settings.project
        planned = registry.plan(found, project, version, bundle.digest, now)
        return planned.version, registry.register_entities(self.store, project, planned.entities, planned.specs, now)

    def create_registered(
        self,
        kind: str,
        name: str,
        version: str | None = None,
        inputs: Mapping[str, Any] | None = None,
        *,
        project: str | None = None,
        max_parallelism: int = 0,
        overwrite_cache: bool = False,
    ) -> str:
        """An execution of a registered workflow or launch plan (latest version when omitted).

        ``inputs`` are plain JSON values, checked against the workflow's interface before anything
        is created; the execution pins the registered spec and code digests.
        """
        from setpoint.adapters.store.registry_rows import KIND_NAMES
        from setpoint.service import registry

        project = project or self.settings.project
        launch = registry.resolve_launch(self.store, project, kind, name, version, inputs or {})
        return self._create(
            launch.spec,
            launch.code_digest,
            launch.inputs,
            project=project,
            config=ExecutionConfig(
                max_parallelism=max_parallelism,
                executor=self.settings.default_executor,
                overwrite_cache=overwrite_cache,
            ),
            message=f"created from {KIND_NAMES[kind]} '{name}' version '{launch.entity.version}'",
        )

    def create_from_spec(
        self,
        spec: WorkflowSpec,
        code_digest: str,
        inputs: Mapping[str, Any] | None = None,
        *,
        project: str | None = None,
        max_parallelism: int = 0,
        overwrite_cache: bool = False,
    ) -> str:
        """An execution of a compiled spec whose code bundle is already in the blob store.

        ``inputs`` are plain JSON values checked against the spec's interface (what the API server
        does for ``setpoint run --server``: the CLI compiles, uploads the bundle, and sends both).
        """
        from setpoint.service.registry import resolve_inputs

        resolved = resolve_inputs(spec.interface, inputs or {}, f"workflow '{spec.name}'")
        return self._create(
            spec,
            code_digest,
            resolved,
            project=project or self.settings.project,
            config=ExecutionConfig(
                max_parallelism=max_parallelism,
                executor=self.settings.default_executor,
                overwrite_cache=overwrite_cache,
            ),
        )

    # -- launch plan schedules --------------------------------------------------------------------
    def activate_launchplan(
        self, name: str, version: str | None = None, *, project: str | None = None
    ) -> dict[str, Any]:
        """Make ``version`` (default: the latest) the one active version of launch plan ``name``."""
        from setpoint.service import scheduler

        return scheduler.activate(self.store, self.clock, project or self.settings.project, name, version)

    def deactivate_launchplan(self, name: str, *, project: str | None = None) -> dict[str, Any]:
        """No version of launch plan ``name`` is active any more: its schedule stops firing."""
        from setpoint.service import scheduler

        return scheduler.deactivate(self.store, self.clock, project or self.settings.project, name)

    def launchplan_status(self, name: str, *, project: str | None = None) -> dict[str, Any]:
        """Schedule, active version, next ticks and recent ticks of launch plan ``name``."""
        from setpoint.service.scheduler import status

        return status(self.store, project or self.settings.project, name, self.clock.now())

    def launchplan_statuses(self, *, project: str | None = None) -> list[dict[str, Any]]:
        """`launchplan_status` of every launch plan registered in the project, by name."""
        from setpoint.service.scheduler import status

        project = project or self.settings.project
        now = self.clock.now()
        return [status(self.store, project, e.name, now) for e in self.store.list_entities("launchplan", project)]

    def run(
        self, wf: Workflow, inputs: Mapping[str, Any] | None = None, *, timeout: float | None = None, **opts: Any
    ) -> ExecutionRecord:
        """Create an execution, run it with an in-process controller, and wait for it to finish."""
        self.start_controller()
        eid = self.create_execution(wf, inputs, **opts)
        return self.wait(eid, timeout=timeout)

    def relaunch(self, execution_id: str, inputs: Mapping[str, Any] | None = None) -> str:
        """A new execution with the same pinned spec, code and inputs (optionally some inputs changed)."""
        src = self.get(execution_id)
        check_executors(self.spec(execution_id), src.config.executor, self.settings)
        record = executions.relaunch(self.store, self.clock, execution_id, inputs)
        self._submit(record.id)
        return record.id

    def recover_plan(self, execution_id: str) -> list[PlanItem]:
        """What `recover` would reuse and what it would run again, and why (nothing is created)."""
        return executions.recover_plan(self.store, execution_id)

    def recover(self, execution_id: str) -> str:
        """A new execution that reuses every node that succeeded in a failed one and runs the rest."""
        src = self.get(execution_id)
        self.recover_plan(execution_id)  # validates the source's phase before anything else
        check_executors(self.spec(execution_id), src.config.executor, self.settings)
        record = executions.recover(self.store, self.clock, execution_id)
        self._submit(record.id)
        return record.id

    def signal(self, execution_id: str, name: str, value: Any = True) -> None:
        """Send a gate's signal: True/False for ``approve``, a value of the gate's type for ``wait_for_input``.

        The value is checked against the gate's declared type before it is recorded; the first
        value sent for a name stands.
        """
        from setpoint.types import literal_from_json_value

        rec = self.get(execution_id)
        # gates of the declared spec and of every sub-workflow a dynamic node has built so far
        graph, _ = self._graph(self.spec(execution_id), self._node_records(execution_id), children=True)
        gates = {g.name: g for n in graph.node_map.values() if (g := n.signal_gate) is not None}
        gate = gates.get(name)
        if gate is None:
            known = ", ".join(sorted(gates)) or "none"
            raise InputError(f"execution '{execution_id}' has no gate waiting for a signal '{name}' (signals: {known})")
        if rec.phase.is_terminal:
            raise UserError(f"execution '{execution_id}' already ended {rec.phase.value}; signal '{name}' was not sent")
        where = f"signal '{name}' of execution '{execution_id}'"
        if isinstance(gate, ApproveGate):
            if not isinstance(value, bool):
                raise InputError(f"{where}: an approval is true or false, got {value!r}")
            literal: Any = value
        else:
            literal = literal_from_json_value(value, gate.type, where=where)
        if not self.store.send_signal(execution_id, name, literal, self.clock.now()):
            raise UserError(f"{where} was already sent; the first value stands")
        if self._controller is not None:
            self._controller.submit(execution_id)

    def _node_records(self, execution_id: str) -> dict[str, NodeRecord]:
        return {n.node_id: n for n in self.store.load_nodes(execution_id)}

    # -- catalog and lineage -----------------------------------------------------------------------
    def cache_entries(
        self, *, project: str | None = None, task: str | None = None, limit: int = 100
    ) -> list[CatalogEntry]:
        return self.store.catalog_list(project, task, limit)

    def cache_evict(
        self,
        *,
        project: str | None = None,
        keys: Sequence[str] = (),
        task: str | None = None,
        execution: str | None = None,
    ) -> int:
        return self.store.catalog_evict(
            project or self.settings.project, keys=keys, task=task, source_execution=execution
        )

    def cache_explain(self, execution_id: str, node_id: str) -> dict[str, Any]:
        """Why a cached node hit or missed: its key compared with the closest entry of the same task."""
        return catalog.explain_cache(self.store, execution_id, node_id)

    def lineage(self, execution_id: str, node_id: str | None = None) -> list[LineageNode]:
        return lineage_upstream(self.store, execution_id, node_id)

    def consumers(self, execution_id: str, node_id: str, output: str | None = None) -> list[Consumer]:
        return lineage_consumers(self.store, execution_id, node_id, output)

    # -- reading ----------------------------------------------------------------------------------
    def get(self, execution_id: str) -> ExecutionRecord:
        return self.store.get_execution(execution_id)

    def executions(self, flt: ExecutionFilter | None = None) -> list[ExecutionRecord]:
        return self.store.list_executions(flt or ExecutionFilter())

    def spec(self, execution_id: str) -> WorkflowSpec:
        rec = self.get(execution_id)
        return WorkflowSpec.from_json(json.loads(self.store.get_spec(rec.spec_digest)))

    def wait(self, execution_id: str, timeout: float | None = None) -> ExecutionRecord:
        if self._controller is not None:
            return self._controller.wait(execution_id, timeout)
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.05
        while True:
            rec = self.get(execution_id)
            if rec.phase.is_terminal or (deadline is not None and time.monotonic() >= deadline):
                return rec
            time.sleep(delay)
            delay = min(0.5, delay * 1.5)

    def _graph(
        self, spec: WorkflowSpec, records: Mapping[str, NodeRecord], *, children: bool
    ) -> tuple[Graph, list[str]]:
        return inspect.execution_graph(self.store, spec, records, children=children)

    def nodes(self, execution_id: str, *, children: bool = False) -> list[NodeView]:
        """The execution's nodes in spec order; ``children=True`` adds the nodes that map and
        dynamic nodes expanded into, each right after its parent."""
        return inspect.node_views(self.store, execution_id, children=children)

    def events(self, execution_id: str, after_seq: int = 0) -> list[Event]:
        self.get(execution_id)
        return self.store.events(execution_id, after_seq)

    def follow_events(self, execution_id: str, after_seq: int = 0, *, poll_s: float = 0.1) -> Iterator[Event]:
        """The execution's events from ``after_seq`` on, as they are recorded, until it ends."""
        import time

        from setpoint.service.follow import EventFollower

        self.get(execution_id)
        follower = EventFollower(self.store, execution_id, after_seq)
        while True:
            yield from follower.poll()
            if follower.ended is not None:
                return
            time.sleep(poll_s)

    def changes(self, execution_id: str, *, poll_s: float = 0.1, idle_s: float = 1.0) -> Iterator[Event | None]:
        """Each new event as it is recorded, and None about once a second while idle; ends with the execution."""
        import time

        from setpoint.service.follow import EventFollower

        self.get(execution_id)
        follower = EventFollower(self.store, execution_id, 0)
        quiet_since = time.monotonic()
        while True:
            got = follower.poll()
            yield from got
            if got:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= idle_s:
                quiet_since = time.monotonic()
                yield None
            if follower.ended is not None:
                return
            time.sleep(poll_s)

    def follow_logs(
        self, execution_id: str, node_id: str, attempt: int | None = None, *, poll_s: float = 0.2
    ) -> Iterator[LogChunk]:
        """A node's stdout and stderr as they grow (a retry's attempt after the last), until it ends."""
        import time

        from setpoint.service.follow import LogFollower

        if node_id not in {v.node_id for v in self.nodes(execution_id, children=True)}:
            raise NotFoundError(f"execution '{execution_id}' has no node '{node_id}'")
        follower = LogFollower(self.store, self.settings.attempts_root, execution_id, node_id, attempt)
        while True:
            yield from follower.poll()
            if follower.ended:
                return
            time.sleep(poll_s)

    def outputs(self, execution_id: str, wf: Workflow | None = None) -> dict[str, Any]:
        """The execution's outputs: Python values when the workflow is given, else plain JSON."""
        rec = self.get(execution_id)
        if rec.phase is not ExecutionPhase.SUCCEEDED or rec.outputs is None:
            raise SetpointError(f"execution '{execution_id}' has no outputs (phase {rec.phase.value})")
        from setpoint.types import LiteralContext, from_literal, literal_to_plain

        if wf is None:
            return {k: literal_to_plain(v, self.blobs) for k, v in rec.outputs.items()}

        hints = typing.get_type_hints(wf.function, include_extras=True)
        ret = hints.get("return")
        ctx = LiteralContext(blobs=self.blobs, workdir=self.settings.home / "downloads" / execution_id)
        if set(rec.outputs) == {"o0"}:
            return {"o0": from_literal(rec.outputs["o0"], ret, ctx, where="output 'o0'")}
        fields = typing.get_type_hints(ret) if ret is not None else {}
        return {k: from_literal(v, fields[k], ctx, where=f"output '{k}'") for k, v in rec.outputs.items()}

    def terminate(self, execution_id: str, reason: str = "terminated by the user") -> ExecutionRecord:
        rec = self.store.request_abort(execution_id, reason, self.clock.now())
        if self._controller is not None:
            self._controller.submit(execution_id)
        return rec

    def logs(
        self, execution_id: str, node_id: str | None = None, attempt: int | None = None
    ) -> list[tuple[str, str, str]]:
        """(attempt id, stream, text) for each attempt's stdout and stderr, in node order.

        ``node_id`` is any node `nodes(children=True)` lists (a map element ``fit-map.2`` too); a node
        that expanded means it and every node under it; None means every node. An attempt number
        the node never had is `NotFoundError`; `log_notes` says why a node has no logs.
        """
        from setpoint.service import logs as logs_service

        plan = logs_service.select(self.store, execution_id, node_id, attempt)
        return logs_service.read_entries(plan, self.log_paths())

    def log_notes(self, execution_id: str, node_id: str | None = None, attempt: int | None = None) -> list[str]:
        """Why the nodes `logs` is asked about have no logs of their own (a cache hit from
        execution X, recovered from Y, a gate, not run yet), one sentence each."""
        from setpoint.service import logs as logs_service

        return [n.message for n in logs_service.select(self.store, execution_id, node_id, attempt).notes]

    def log_paths(self) -> Callable[[AttemptLog, str], Path]:
        """Where an attempt's stream is: through this client's executors when it hosts a controller."""
        from setpoint.service import logs as logs_service

        executors = {name: ex for name, ex in (("local", self._executor), ("ray", self._ray)) if ex is not None}
        return logs_service.paths_for(self.settings.attempts_root, executors)
