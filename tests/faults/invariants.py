"""The oracle run after every fault scenario (reliability.md §2.0, I1-I9).

`check` reads the store (SQLite or PostgreSQL) and the attempts folder and raises
`InvariantViolation` listing everything wrong; it returns figures for the scenario's JSON line.
`VersionWatcher` samples row versions while a scenario runs, to catch a lost update or a row that
left a terminal phase (the stored rows only show the last version).
"""

from __future__ import annotations

import contextlib
import enum
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import psutil

from setpoint.adapters.blobs.local import LocalBlobStore
from setpoint.adapters.executor import attempt_dir as files
from setpoint.adapters.executor.attempt_dir import read_launch_log
from setpoint.adapters.executor.worker import ATTEMPT_DIR_ENV
from setpoint.controller.controller import blob_refs
from setpoint.core.model import Event
from setpoint.core.phases import (
    ATTEMPT_TRANSITIONS,
    EXECUTION_TRANSITIONS,
    NODE_TRANSITIONS,
    AttemptPhase,
    ExecutionPhase,
    NodePhase,
    legal,
)
from setpoint.errors import SetpointError
from setpoint.ports import Store

# What a fault-free run produced: execution id -> {"outputs": ..., "nodes": {node id: outputs}}.
Reference = Mapping[str, Mapping[str, Any]]


class InvariantViolation(AssertionError):
    pass


def leftover_processes(home: Path) -> list[psutil.Process]:
    """Live processes of attempts under ``home`` (zombies excluded), found two ways.

    By environment tag: every process exec'd below an attempt carries ``SETPOINT_ATTEMPT_DIR``
    (a warm-forked attempt process itself does not show it in /proc: it was set after exec).
    By pid claim: every attempt directory's ``pid`` file, if that process (pid and start time) lives.
    """
    prefix = str(home.resolve())
    found: dict[int, psutil.Process] = {}
    for proc in psutil.process_iter():
        try:
            tag = proc.environ().get(ATTEMPT_DIR_ENV, "")
            if tag.startswith(prefix) and proc.status() != psutil.STATUS_ZOMBIE:
                found[proc.pid] = proc
        except psutil.Error:
            continue
    for pid_file in (home / "attempts").glob("*/*/*/pid"):
        claim = files.read_claim(pid_file.parent)
        if isinstance(claim, files.ProcessClaim) and files.is_running(claim):
            with contextlib.suppress(psutil.Error):
                found.setdefault(claim.pid, psutil.Process(claim.pid))
    return list(found.values())


def wait_no_leftovers(home: Path, grace: float = 8.0) -> list[psutil.Process]:
    """Give exiting attempt processes ``grace`` seconds (the executor's kill grace is 3 s)."""
    deadline = time.monotonic() + grace
    while True:
        left = leftover_processes(home)
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.1)


# Execution events that record a request, not a phase (codec.py): a terminate and a gate's signal.
_MARKERS = frozenset({"ABORT_REQUESTED", "SIGNAL"})


def _history_problems(eid: str, events: list[Event]) -> list[str]:
    """Only legal transitions, none out of a terminal phase, exactly one terminal execution event."""
    problems: list[str] = []
    tables: dict[str, tuple[dict[Any, frozenset[Any]], type[enum.Enum]]] = {
        "execution": (EXECUTION_TRANSITIONS, ExecutionPhase),
        "node": (NODE_TRANSITIONS, NodePhase),
        "attempt": (ATTEMPT_TRANSITIONS, AttemptPhase),
    }
    last: dict[tuple[Any, ...], enum.Enum] = {}
    seqs = [e.seq for e in events]
    if seqs != sorted(seqs) or len(set(seqs)) != len(seqs):
        problems.append(f"{eid}: event sequence numbers are not strictly increasing")
    for e in events:
        if e.kind == "execution" and e.phase in _MARKERS:
            continue
        table, enum_type = tables[e.kind]
        key: tuple[Any, ...] = (e.kind, e.node_id, e.attempt if e.kind == "attempt" else None)
        new = enum_type(e.phase)
        old = last.get(key)
        if old is None:
            old = {"execution": None, "node": NodePhase.PENDING, "attempt": None}[e.kind]
        if old is not None and (new == old or not legal(table, old, new)):
            problems.append(f"{eid}: illegal {e.kind} transition {key[1:]} {old.value} -> {new.value} (seq {e.seq})")
        last[key] = new
    terminal = [
        e for e in events if e.kind == "execution" and e.phase not in _MARKERS and ExecutionPhase(e.phase).is_terminal
    ]
    if len(terminal) != 1:
        problems.append(f"{eid}: {len(terminal)} terminal execution events (want exactly 1)")
    return problems


def check(
    store: Store,
    home: Path,
    execution_ids: Iterable[str],
    *,
    reference: Reference | None = None,
    expect_phase: ExecutionPhase | None = ExecutionPhase.SUCCEEDED,
    sqlite_path: Path | None = None,
    process_grace: float = 8.0,
) -> dict[str, int]:
    """Check I1-I9 for ``execution_ids``; return figures. ``reference`` is per execution id."""
    problems: list[str] = []
    ids = list(execution_ids)
    attempts_root = home / "attempts"
    stored_attempts: dict[str, AttemptPhase] = {}
    n_events = 0
    for eid in ids:
        # I1: acknowledged executions exist and are terminal
        try:
            rec = store.get_execution(eid)
        except SetpointError as exc:
            problems.append(f"{eid}: acknowledged but not readable: {exc}")
            continue
        if not rec.phase.is_terminal:
            problems.append(f"{eid}: not terminal ({rec.phase.value})")
        if expect_phase is not None and rec.phase is not expect_phase:
            problems.append(f"{eid}: ended {rec.phase.value}, expected {expect_phase.value} ({rec.error})")
        if rec.lease_owner is not None and rec.phase.is_terminal:
            pass  # a lease left behind by a killed controller is harmless on a terminal execution
        nodes = store.load_nodes(eid)
        attempts = store.load_attempts(eid)
        for a in attempts:
            stored_attempts[a.id] = a.phase
            if not a.phase.is_terminal and rec.phase.is_terminal:
                problems.append(f"{eid}: attempt {a.id} still {a.phase.value} in a terminal execution")
        # I3: the history only makes legal moves and agrees with the rows
        events = store.events(eid)
        n_events += len(events)
        problems += _history_problems(eid, events)
        last_exec = [e.phase for e in events if e.kind == "execution" and e.phase not in _MARKERS]
        if last_exec and last_exec[-1] != rec.phase.value:
            problems.append(f"{eid}: row says {rec.phase.value}, last event says {last_exec[-1]}")
        last_node = {e.node_id: e.phase for e in events if e.kind == "node"}
        for n in nodes:
            if last_node.get(n.node_id, NodePhase.PENDING.value) != n.phase.value:
                problems.append(f"{eid}: node {n.node_id} row {n.phase.value} != last event {last_node.get(n.node_id)}")
        last_att = {(e.node_id, e.attempt): e.phase for e in events if e.kind == "attempt"}
        for a in attempts:
            if last_att.get((a.node_id, a.number)) != a.phase.value:
                problems.append(f"{eid}: attempt {a.id} row {a.phase.value} != last event")
        # I4 (what the final rows can show): every written row has a version
        if rec.version < 1 or any(n.version < 1 for n in nodes) or any(a.version < 1 for a in attempts):
            problems.append(f"{eid}: a stored row has version < 1")
        # I5: outputs equal the fault-free run
        if reference is not None and eid in reference:
            ref = reference[eid]
            if rec.outputs != ref["outputs"]:
                problems.append(f"{eid}: outputs {rec.outputs} != fault-free {ref['outputs']}")
            got = {n.node_id: n.outputs for n in nodes if n.phase.is_success}
            if got != ref["nodes"]:
                differ = sorted(k for k in set(got) | set(ref["nodes"]) if got.get(k) != ref["nodes"].get(k))
                problems.append(f"{eid}: node outputs differ from the fault-free run at {differ[:10]}")
    # I2: at most one launch per attempt id, and only of recorded attempts
    launched = [aid for aid, _ in read_launch_log(attempts_root)]
    counts = Counter(launched)
    dupes = sorted(aid for aid, n in counts.items() if n > 1)
    if dupes:
        problems.append(f"attempt ids launched more than once: {dupes[:10]}")
    mine = {aid for aid in counts if aid.split("/", 1)[0] in set(ids)}
    unrecorded = sorted(mine - set(stored_attempts))
    if unrecorded:
        problems.append(f"launched but never recorded: {unrecorded[:10]}")
    # I6: every catalog entry's artifacts exist and verify, and its producer succeeded
    blobs = LocalBlobStore(home / "blobs")
    entries = store.catalog_list(limit=100_000)
    for entry in entries:
        for blob in blob_refs(entry.outputs):
            if not blobs.verify(blob):
                problems.append(f"catalog entry {entry.key[:12]}: artifact {blob.uri} missing or corrupt")
        producer = f"{entry.source_execution}/{entry.source_node}/{entry.source_attempt}"
        if producer in stored_attempts and stored_attempts[producer] is not AttemptPhase.SUCCEEDED:
            problems.append(f"catalog entry {entry.key[:12]} from {producer}, which is {stored_attempts[producer]}")
    # I7: nothing of ours still running
    left = wait_no_leftovers(home, process_grace)
    if left:
        problems.append(f"leftover attempt processes: {[(p.pid, p.name()) for p in left]}")
    # I9: store integrity
    if sqlite_path is not None:
        con = sqlite3.connect(sqlite_path)
        try:
            (ok,) = con.execute("PRAGMA integrity_check").fetchone()
            fk = con.execute("PRAGMA foreign_key_check").fetchall()
        finally:
            con.close()
        if ok != "ok" or fk:
            problems.append(f"sqlite integrity_check: {ok}, foreign_key_check: {fk[:5]}")
    if problems:
        raise InvariantViolation("\n".join(problems[:50]))
    return {
        "executions": len(ids),
        "attempts": len(stored_attempts),
        "launches": len(launched),
        "duplicate_launches": len(dupes),
        "events": n_events,
        "catalog_entries": len(entries),
    }


class VersionWatcher:
    """Samples every execution's row version and phase (and its nodes') while a scenario runs.

    A version that goes down, or a row that leaves a terminal phase, is a lost update or a write
    by a fenced-off replica. Read errors (a store outage) are counted and skipped.
    """

    def __init__(self, store: Store, execution_ids: Iterable[str], interval: float = 0.1) -> None:
        self.store = store
        self.ids = list(execution_ids)
        self.interval = interval
        self.problems: list[str] = []
        self.samples = 0
        self.read_errors = 0
        self._seen: dict[tuple[str, str], tuple[int, bool]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="version-watcher", daemon=True)

    def __enter__(self) -> VersionWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _see(self, key: tuple[str, str], version: int, terminal: bool, phase: str) -> None:
        old = self._seen.get(key)
        if old is not None:
            old_version, was_terminal = old
            if version < old_version:
                self.problems.append(f"{key}: version went back from {old_version} to {version}")
            if was_terminal and not terminal:
                self.problems.append(f"{key}: left a terminal phase for {phase}")
            if was_terminal and version != old_version:
                self.problems.append(f"{key}: rewritten after it was terminal (v{old_version} -> v{version})")
        self._seen[key] = (version, terminal)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                for eid in self.ids:
                    rec = self.store.get_execution(eid)
                    self._see((eid, ""), rec.version, rec.phase.is_terminal, rec.phase.value)
                    for n in self.store.load_nodes(eid):
                        self._see((eid, n.node_id), n.version, n.phase.is_terminal, n.phase.value)
                self.samples += 1
            except SetpointError:
                self.read_errors += 1

    def assert_ok(self) -> None:
        if self.problems:
            raise InvariantViolation("\n".join(self.problems[:20]))
