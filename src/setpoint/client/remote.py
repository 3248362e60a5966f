"""The client for a remote `setpoint server`: the same methods and return types as `Client`, over HTTP.

``setpoint --server URL ...`` and ``setpoint.connect(server=URL, token=...)`` use it. Work that
needs the user's machine happens here: a workflow is imported and compiled locally, its code bundle
captured and uploaded (content-addressed: a bundle the server has is not sent again), and only then
is the execution created on the server, which runs it with the uploaded code. Everything else is a
call to the one versioned API (`setpoint.server.routes`); records come back in their one wire form
with literals intact (``values=literal``, `setpoint.client.wire`), so the CLI renders remote and
embedded results with the same code.

Errors the server answers with (``{"error": {"code", "message"}}``) are raised as the exceptions
the embedded client raises for the same problem, so the CLI's exit codes match; a server that
cannot be reached is a `ServerUnavailableError` naming the URL. The token is sent as a bearer
header and appears in no message, log line or ``repr``.
"""

from __future__ import annotations

import json
import time
import typing
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from setpoint.client.errors import ERROR_CODES, AuthError, ServerUnavailableError
from setpoint.client.http import READ_TIMEOUT_S, Connection, SseMessage, parse_sse
from setpoint.client.prepare import capture_registration, prepare_run
from setpoint.client.wire import from_wire
from setpoint.config.settings import Settings
from setpoint.core.model import CatalogEntry, Event, ExecutionRecord
from setpoint.core.recovery import PlanItem
from setpoint.errors import InputError, NotFoundError, SetpointError
from setpoint.ports import ExecutionFilter, RegisteredEntity
from setpoint.service.inspect import NodeView
from setpoint.service.lineage import Consumer, LineageNode

if typing.TYPE_CHECKING:
    from setpoint.sdk.workflow import Workflow
    from setpoint.service.follow import LogChunk
    from setpoint.service.registry import Registered
    from setpoint.spec.workflow import WorkflowSpec

API = "/api/v1"


__all__ = ["ERROR_CODES", "AuthError", "RemoteClient", "ServerUnavailableError", "SseMessage", "connect", "parse_sse"]

# Always ask for records as stored: the client rebuilds the very records the embedded client returns.
LITERAL = {"values": "literal"}


def _segment(value: str, what: str) -> str:
    """``value`` as one URL path segment; a value that cannot be an id of anything is simply not found."""
    if not value or "/" in value or value in (".", ".."):
        raise NotFoundError(f"{what} {value!r} not found")
    return quote(value, safe="")


class RemoteClient:
    """`Client`'s interface against ``server`` (``http://host:port``), for one project."""

    def __init__(
        self,
        server: str,
        token: str | None = None,
        project: str | None = None,
        *,
        settings: Settings | None = None,
        timeout: float = READ_TIMEOUT_S,
    ) -> None:
        try:
            import httpx  # noqa: F401  (checked here, used by `setpoint.client.http`)
        except ImportError as e:  # pragma: no cover - httpx comes with the remote extra
            raise InputError(f"talking to a server needs httpx: pip install 'setpoint[remote]' ({e})") from None
        if not server.startswith(("http://", "https://")):
            raise InputError(f"the server must be an http:// or https:// URL, got {server[:80]!r}")
        self.url = server.rstrip("/")
        self.settings = settings or Settings.from_env()
        self._project = project
        self.blobs = None  # records come back literals intact; blob payloads stay on the server
        self._conn = Connection(self.url, token, timeout)
        self._call = self._conn.call
        self._stream = self._conn.stream

    def __repr__(self) -> str:
        return f"RemoteClient({self.url!r}, project={self._project!r})"

    # -- lifecycle ----------------------------------------------------------------------------
    @property
    def controller(self) -> None:
        return None

    def start_controller(self) -> None:
        """Nothing to start: the server's controller runs the executions."""

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> RemoteClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- HTTP ---------------------------------------------------------------------------------
    @property
    def project(self) -> str:
        """The project every call is scoped to: the one given, else the token's only project, else 'default'."""
        if self._project is None:
            names = [p["name"] for p in self._call("GET", f"{API}/projects")["projects"]]
            self._project = names[0] if len(names) == 1 else "default"
        return self._project

    def _p(self, project: str | None = None) -> str:
        return f"{API}/projects/{_segment(project or self.project, 'project')}"

    def _e(self, execution_id: str) -> str:
        return f"{self._p()}/executions/{_segment(execution_id, 'execution')}"

    # -- code bundles ---------------------------------------------------------------------------
    def upload_bundle(self, digest: str, data: bytes, project: str | None = None) -> bool:
        """Send a code bundle unless the server has it; True when it was sent."""
        path = f"{self._p(project)}/bundles/{digest}"
        if self._call("GET", path, params={"size": len(data)})["present"]:
            return False
        self._call("PUT", path, content=data)
        return True

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
    ) -> str:
        """Compile here, upload the code bundle, and create the execution on the server."""
        from setpoint.types import LiteralContext, literal_to_plain

        run = prepare_run(wf, inputs, literal_inputs, LiteralContext(blobs=None, workdir=None))
        spec, bundle = run.spec, run.bundle
        plain = {name: literal_to_plain(lit) for name, lit in run.inputs.items()}
        self.upload_bundle(bundle.digest, bundle.data, project)
        made = self._call(
            "POST",
            f"{self._p(project)}/executions",
            body={
                "spec": spec.to_json(),
                "code_digest": bundle.digest,
                "inputs": plain,
                "max_parallelism": max_parallelism,
                "overwrite_cache": overwrite_cache,
            },
        )
        return str(made["id"])

    def register(
        self, targets: Sequence[str], *, project: str | None = None, version: str | None = None
    ) -> tuple[str, list[Registered]]:
        """Discover and compile here, upload the code bundle, register everything in one batch."""
        from setpoint.ports import SystemClock
        from setpoint.service import registry

        found = registry.discover(targets)
        bundle = capture_registration(found)
        project = project or self.project
        self.upload_bundle(bundle.digest, bundle.data, project)
        planned = registry.plan(found, project, version, bundle.digest, SystemClock().now())
        done = self._call(
            "POST",
            f"{self._p(project)}/registrations",
            body={
                "code_digest": bundle.digest,
                "version": planned.version,
                "tasks": [e.body["spec"] for e in planned.entities if e.kind == "task"],
                "workflows": [json.loads(body) for body in planned.specs.values()],
                "launchplans": [
                    {
                        "name": e.name,
                        "workflow": e.body["workflow"],
                        "default_inputs": e.body["default_inputs"],
                        "fixed_inputs": e.body["fixed_inputs"],
                        "schedule": e.body.get("schedule"),
                    }
                    for e in planned.entities
                    if e.kind == "launchplan"
                ],
            },
        )
        from setpoint.service.registry import Registered

        return str(done["version"]), [
            Registered(from_wire(RegisteredEntity, r["entity"]), bool(r["created"])) for r in done["entities"]
        ]

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
        if kind not in ("workflow", "launchplan"):
            raise InputError(f"executions are created from a workflow or a launch plan, not a {kind}")
        made = self._call(
            "POST",
            f"{self._p(project)}/executions",
            body={
                kind: name,
                "version": version,
                "inputs": dict(inputs or {}),
                "max_parallelism": max_parallelism,
                "overwrite_cache": overwrite_cache,
            },
        )
        return str(made["id"])

    # -- launch plan schedules (as `Client`) -----------------------------------------------------------
    def _lp(self, name: str, project: str | None) -> str:
        return f"{self._p(project)}/launchplans/{_segment(name, 'launch plan')}"

    def activate_launchplan(
        self, name: str, version: str | None = None, *, project: str | None = None
    ) -> dict[str, Any]:
        return dict(self._call("POST", f"{self._lp(name, project)}/activate", body={"version": version}))

    def deactivate_launchplan(self, name: str, *, project: str | None = None) -> dict[str, Any]:
        return dict(self._call("POST", f"{self._lp(name, project)}/deactivate"))

    def launchplan_status(self, name: str, *, project: str | None = None) -> dict[str, Any]:
        return dict(self._call("GET", f"{self._lp(name, project)}/schedule"))

    def launchplan_statuses(self, *, project: str | None = None) -> list[dict[str, Any]]:
        listed = self._call("GET", f"{self._p(project)}/launchplans")
        return [self.launchplan_status(e["name"], project=project) for e in listed["entities"]]

    def run(
        self, wf: Workflow, inputs: Mapping[str, Any] | None = None, *, timeout: float | None = None, **opts: Any
    ) -> ExecutionRecord:
        return self.wait(self.create_execution(wf, inputs, **opts), timeout=timeout)

    def relaunch(self, execution_id: str, inputs: Mapping[str, Any] | None = None) -> str:
        made = self._call("POST", f"{self._e(execution_id)}/relaunch", body={"inputs": dict(inputs or {})})
        return str(made["id"])

    def recover_plan(self, execution_id: str) -> list[PlanItem]:
        got = self._call("GET", f"{self._e(execution_id)}/recovery-plan", what=f"execution '{execution_id}'")
        return [from_wire(PlanItem, i) for i in got["plan"]]

    def recover(self, execution_id: str) -> str:
        return str(self._call("POST", f"{self._e(execution_id)}/recover")["id"])

    def signal(self, execution_id: str, name: str, value: Any = True) -> None:
        self._call("POST", f"{self._e(execution_id)}/signals", body={"name": name, "value": value})

    def create_token(self, role: str, project: str | None = None) -> str:
        return str(self._call("POST", f"{self._p(project)}/tokens", body={"role": role})["token"])

    # -- catalog and lineage -----------------------------------------------------------------------
    def cache_entries(
        self, *, project: str | None = None, task: str | None = None, limit: int = 100
    ) -> list[CatalogEntry]:
        params: dict[str, Any] = {"limit": limit}
        if task is not None:
            params["task"] = task
        got = self._call("GET", f"{self._p(project)}/cache", params=params)
        return [from_wire(CatalogEntry, e) for e in got["entries"]]

    def cache_evict(
        self,
        *,
        project: str | None = None,
        keys: Sequence[str] = (),
        task: str | None = None,
        execution: str | None = None,
    ) -> int:
        body = {"keys": list(keys), "task": task, "execution": execution}
        return int(self._call("POST", f"{self._p(project)}/cache/evict", body=body)["evicted"])

    def cache_explain(self, execution_id: str, node_id: str) -> dict[str, Any]:
        got = self._call("GET", f"{self._e(execution_id)}/cache-explain", params={"node": node_id})
        return dict(got["explanation"])

    def lineage(self, execution_id: str, node_id: str | None = None) -> list[LineageNode]:
        params = {"node": node_id} if node_id is not None else None
        got = self._call("GET", f"{self._e(execution_id)}/lineage/upstream", params=params)
        return [from_wire(LineageNode, t) for t in got["lineage"]]

    def consumers(self, execution_id: str, node_id: str, output: str | None = None) -> list[Consumer]:
        params = {"node": node_id, **({"output": output} if output is not None else {})}
        got = self._call("GET", f"{self._e(execution_id)}/lineage/consumers", params=params)
        return [from_wire(Consumer, c) for c in got["consumers"]]

    # -- reading ----------------------------------------------------------------------------------
    def get(self, execution_id: str) -> ExecutionRecord:
        got = self._call("GET", self._e(execution_id), params=LITERAL, what=f"execution '{execution_id}'")
        return from_wire(ExecutionRecord, got)

    def executions(self, flt: ExecutionFilter | None = None) -> list[ExecutionRecord]:
        flt = flt or ExecutionFilter()
        params: dict[str, Any] = {**LITERAL, "limit": flt.limit, "phase": [p.value for p in flt.phases]}
        if flt.workflow is not None:
            params["workflow"] = flt.workflow
        if flt.before is not None:
            params["before"] = flt.before
        got = self._call("GET", f"{self._p(flt.project)}/executions", params=params)
        return [from_wire(ExecutionRecord, e) for e in got["executions"]]

    def spec(self, execution_id: str) -> WorkflowSpec:
        from setpoint.spec.workflow import WorkflowSpec

        got = self._call("GET", f"{self._e(execution_id)}/spec", what=f"execution '{execution_id}'")
        return WorkflowSpec.from_json(got["spec"])

    def nodes(self, execution_id: str, *, children: bool = False) -> list[NodeView]:
        params = {**LITERAL, "children": children}
        got = self._call("GET", f"{self._e(execution_id)}/nodes", params=params, what=f"execution '{execution_id}'")
        return [from_wire(NodeView, v) for v in got["nodes"]]

    def wait(self, execution_id: str, timeout: float | None = None) -> ExecutionRecord:
        """Block until the execution ends (or ``timeout`` passes), on the server's event stream."""
        deadline = None if timeout is None else time.monotonic() + timeout
        path = f"{self._e(execution_id)}/events/stream"
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return self.get(execution_id)
            # Only the end matters here: start after any event there could be.
            params = {"after": 2**62, "timeout": min(left, 300.0) if left is not None else 300.0}
            for msg in self._stream(path, params, f"execution '{execution_id}'", reconnect=False):
                if msg.event == "end":
                    return self.get(execution_id)
            if left is not None and left <= params["timeout"]:
                return self.get(execution_id)

    def changes(self, execution_id: str) -> Iterator[Event | None]:
        """Each new event as it is recorded, and None about once a second while idle; ends with the execution."""
        path = f"{self._e(execution_id)}/events/stream"
        for msg in self._stream(path, {"after": 0}, f"execution '{execution_id}'"):
            if msg.event == "event":
                yield from_wire(Event, msg.data, execution_id=execution_id)
            elif msg.event == "ping":
                yield None

    def events(self, execution_id: str, after_seq: int = 0) -> list[Event]:
        out: list[Event] = []
        while True:
            got = self._call(
                "GET",
                f"{self._e(execution_id)}/events",
                params={"after": after_seq, "limit": 10_000},
                what=f"execution '{execution_id}'",
            )
            out += [from_wire(Event, e, execution_id=execution_id) for e in got["events"]]
            if len(got["events"]) < 10_000:
                return out
            after_seq = got["next_after"]

    def follow_events(self, execution_id: str, after_seq: int = 0) -> Iterator[Event]:
        path = f"{self._e(execution_id)}/events/stream"
        for msg in self._stream(path, {"after": after_seq}, f"execution '{execution_id}'"):
            if msg.event == "event":
                yield from_wire(Event, msg.data, execution_id=execution_id)

    def follow_logs(self, execution_id: str, node_id: str, attempt: int | None = None) -> Iterator[LogChunk]:
        from setpoint.service.follow import LogChunk

        path = f"{self._e(execution_id)}/logs/stream"
        params: dict[str, Any] = {"node": node_id}
        if attempt is not None:
            params["attempt"] = attempt
        for msg in self._stream(path, params, f"execution '{execution_id}'"):
            if msg.event == "log":
                d = msg.data
                yield LogChunk(d["attempt_id"], d["stream"], d["offset"], d["text"], msg.id or "")

    def outputs(self, execution_id: str, wf: Workflow | None = None) -> dict[str, Any]:
        if wf is None:
            return dict(
                self._call("GET", f"{self._e(execution_id)}/outputs", what=f"execution '{execution_id}'")["outputs"]
            )
        from setpoint.types import LiteralContext, from_literal

        rec = self.get(execution_id)
        if rec.outputs is None:
            raise SetpointError(f"execution '{execution_id}' has no outputs (phase {rec.phase.value})")
        hints = typing.get_type_hints(wf.function, include_extras=True)
        ret = hints.get("return")
        ctx = LiteralContext(blobs=None, workdir=None)
        if set(rec.outputs) == {"o0"}:
            return {"o0": from_literal(rec.outputs["o0"], ret, ctx, where="output 'o0'")}
        fields = typing.get_type_hints(ret) if ret is not None else {}
        return {k: from_literal(v, fields[k], ctx, where=f"output '{k}'") for k, v in rec.outputs.items()}

    def terminate(self, execution_id: str, reason: str = "terminated by the user") -> ExecutionRecord:
        self._call("POST", f"{self._e(execution_id)}/terminate", body={"reason": reason})
        return self.get(execution_id)

    def logs(
        self, execution_id: str, node_id: str | None = None, attempt: int | None = None
    ) -> list[tuple[str, str, str]]:
        got = self._logs_json(execution_id, node_id, attempt, texts=True)
        return [(r["attempt_id"], r["stream"], r["text"]) for r in got["logs"]]

    def log_notes(self, execution_id: str, node_id: str | None = None, attempt: int | None = None) -> list[str]:
        got = self._logs_json(execution_id, node_id, attempt, texts=False)
        return [str(n["message"]) for n in got.get("notes", [])]

    def _logs_json(self, execution_id: str, node_id: str | None, attempt: int | None, *, texts: bool) -> Any:
        """The logs route's JSON answer: the logs (unless ``texts`` is false) and the notes."""
        params: dict[str, Any] = {} if texts else {"texts": "false"}
        if node_id is not None:
            params["node"] = node_id
        if attempt is not None:
            params["attempt"] = attempt
        return self._call(
            "GET",
            f"{self._e(execution_id)}/logs",
            params=params,
            headers={"accept": "application/json"},
            what=f"execution '{execution_id}'",
        )

    def deck(self, execution_id: str, node_id: str, attempt: int | None = None) -> str:
        """The HTML of a node's deck page: the latest attempt that rendered one, or ``attempt``'s.

        Not JSON, so it is asked for directly; errors are the API's as for every other call.
        """
        import httpx

        path = f"{self._e(execution_id)}/nodes/{_segment(node_id, 'node')}/deck"
        params = {} if attempt is None else {"attempt": attempt}
        try:
            resp = self._conn.http.get(path, params=params, headers={"accept": "text/html"})
        except httpx.HTTPError as e:
            raise self._conn.unreachable(e) from None
        if resp.status_code >= 400:
            self._conn.raise_for(resp, f"node '{node_id}' of execution '{execution_id}'")
        return resp.text


def connect(server: str, token: str | None = None, project: str | None = None) -> RemoteClient:
    """A client for the `setpoint server` at ``server`` (``http://host:port``).

    ``with setpoint.connect("http://ci:8800", token=...) as c: c.run(pipeline, n=10)`` creates and
    waits for an execution there; every `Client` reading method works the same way.
    """
    return RemoteClient(server, token, project)
