"""What only the SQLite store has to get right: the file, WAL, locks, processes, migrations.

The behaviour every backend shares is in tests/contract; these tests are about the embedded file
itself: several processes on one file, readers during writes, files that are broken or belong to
someone else, and schema upgrades.
"""

from __future__ import annotations

import multiprocessing
import re
import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from setpoint.adapters.store import codec
from setpoint.adapters.store.sql.migrations import load_migrations
from setpoint.adapters.store.sqlite import (
    LIST_SLOTS,
    LIST_TIERS,
    MIGRATIONS,
    QUERIES,
    SqliteStore,
    expand_list_params,
    list_chunks,
    list_query,
)
from setpoint.adapters.store.sqlite import migrate as migrations
from setpoint.core.model import (
    CatalogEntry,
    Event,
    EventKind,
    ExecutionRecord,
    LineageDirection,
    LineageRow,
    NodeRecord,
)
from setpoint.core.phases import AttemptPhase, ExecutionPhase, NodePhase
from setpoint.errors import ConflictError, StoreError
from setpoint.ports import ExecutionFilter, RoundWrite


def execution(eid: str = "ex-1", **changes: Any) -> ExecutionRecord:
    base = ExecutionRecord(eid, "proj", "wf", "spec", "code", {"x": {"int": 1}}, created_at=1.0)
    return base.evolve(**changes)


def schema(path: Path) -> list[tuple[str, str, str | None]]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY type, name").fetchall()
    finally:
        conn.close()
    return [(str(t), str(n), s) for t, n, s in rows]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "setpoint.db"


# -- the file and its settings --------------------------------------------------------------------


def test_wal_mode_foreign_keys_and_synchronous_normal(db: Path) -> None:
    with SqliteStore(db) as store:
        store.create_execution(execution())
        with store._pool.connection() as conn:
            assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
            assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
            assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 10_000
    raw = sqlite3.connect(db)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        raw.close()


def test_missing_directories_are_created(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "c" / "store.db"
    with SqliteStore(path) as store:
        store.create_execution(execution())
    assert path.is_file()


def test_data_survives_reopening_and_migrations_are_idempotent(db: Path) -> None:
    with SqliteStore(db) as store:
        store.put_spec("d", "body")
        store.create_execution(execution(), [Event("ex-1", 1.0, EventKind.EXECUTION, "QUEUED")])
    before = schema(db)
    with SqliteStore(db) as store:
        assert store.get_spec("d") == "body"
        assert store.get_execution("ex-1").version == 1
        assert len(store.events("ex-1")) == 1
    assert schema(db) == before
    raw = sqlite3.connect(db)
    try:
        applied = raw.execute("SELECT version, name FROM schema_migrations ORDER BY version").fetchall()
    finally:
        raw.close()
    assert applied == [(m.version, m.name) for m in MIGRATIONS]


def test_readers_are_not_blocked_by_a_writer(db: Path) -> None:
    with SqliteStore(db) as store:
        store.create_execution(execution())
        writer = sqlite3.connect(db, isolation_level=None)
        try:
            writer.execute("BEGIN IMMEDIATE")
            writer.execute("UPDATE executions SET updated_at = 99 WHERE id = 'ex-1'")
            assert store.get_execution("ex-1").updated_at == 0.0  # the committed state, at once
            writer.execute("COMMIT")
            assert store.get_execution("ex-1").updated_at == 99.0
        finally:
            writer.close()


def test_a_lock_held_too_long_is_a_store_error_naming_the_file(db: Path) -> None:
    with SqliteStore(db, busy_timeout=0.2) as store:
        loaded = store.create_execution(execution())
        holder = sqlite3.connect(db, isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")
            with pytest.raises(StoreError, match=re.escape(str(db))) as info:
                store.commit_round(RoundWrite(loaded), owner=None)
            assert "lock" in str(info.value)
            assert isinstance(info.value.__cause__, sqlite3.OperationalError)
        finally:
            holder.close()
        assert store.commit_round(RoundWrite(loaded), owner=None).version == 2  # and it recovers


# -- files that are not (our) databases -----------------------------------------------------------


def test_garbage_file_is_a_store_error_naming_the_path(db: Path) -> None:
    db.write_bytes(b"this is certainly not a SQLite database\x00\xff" * 200)
    with pytest.raises(StoreError, match=re.escape(str(db))) as info:
        SqliteStore(db)
    assert "not a SQLite database or is corrupt" in str(info.value)


def test_corrupt_pages_are_a_store_error_naming_the_path(db: Path) -> None:
    with SqliteStore(db) as store:
        for i in range(50):
            store.create_execution(execution(f"ex-{i:03d}", inputs={"blob": "x" * 2000}))
    data = bytearray(db.read_bytes())
    page = 4096
    assert len(data) > 4 * page
    # Keep page 1 (the header and sqlite_master); scramble every table and index page.
    data[page:] = bytes((i * 7 + 13) % 256 for i in range(len(data) - page))
    db.write_bytes(bytes(data))
    with pytest.raises(StoreError, match=re.escape(str(db))) as info, SqliteStore(db) as store:
        store.list_executions(ExecutionFilter(limit=100))  # whichever fails first: opening or reading
    assert "corrupt" in str(info.value)


def test_parent_that_is_a_file_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "plain-file").write_text("x")
    path = tmp_path / "plain-file" / "store.db"
    with pytest.raises(StoreError, match=re.escape(str(path))):
        SqliteStore(path)


def test_path_that_is_a_directory_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is a directory"):
        SqliteStore(tmp_path)


def test_in_memory_path_points_to_the_fake(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="InMemoryStore"):
        SqliteStore(":memory:")


def test_someone_elses_database_is_refused_untouched(db: Path) -> None:
    raw = sqlite3.connect(db)
    raw.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY)")
    raw.commit()
    raw.close()
    before = schema(db)
    with pytest.raises(StoreError, match=r"not a setpoint store.*customers"):
        SqliteStore(db)
    assert schema(db) == before


def test_newer_schema_is_refused(db: Path) -> None:
    SqliteStore(db).close()
    raw = sqlite3.connect(db)
    raw.execute("INSERT INTO schema_migrations (version, name) VALUES (999, 'from_the_future')")
    raw.commit()
    raw.close()
    with pytest.raises(StoreError, match="schema version 999, newer than this setpoint knows"):
        SqliteStore(db)


# -- migrations -----------------------------------------------------------------------------------


def test_stepwise_migration_gives_the_fresh_schema(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.db"
    SqliteStore(fresh).close()
    for stop in range(len(MIGRATIONS)):
        path = tmp_path / f"from-{stop}.db"
        raw = sqlite3.connect(path, isolation_level=None)
        migrations.migrate(raw, MIGRATIONS, where=str(path), target=stop)
        raw.close()
        SqliteStore(path).close()
        assert schema(path) == schema(fresh)


def test_a_failing_migration_leaves_nothing_behind(tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_first.sql").write_text("CREATE TABLE a (x INTEGER);\n")
    (folder / "0002_broken.sql").write_text("CREATE TABLE b (x INTEGER);\nCREATE TABLE oops (;\n")
    found = load_migrations(folder)
    raw = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    try:
        with pytest.raises(sqlite3.OperationalError):
            migrations.migrate(raw, found, where="m.db")
        assert migrations.current_version(raw) == 1
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert tables == {"a", "schema_migrations"}
        assert not raw.in_transaction
    finally:
        raw.close()


def test_migration_numbers_must_not_have_gaps(tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("SELECT 1;")
    (tmp_path / "0003_c.sql").write_text("SELECT 1;")
    with pytest.raises(StoreError, match="without gaps"):
        load_migrations(tmp_path)


def test_phase_checks_list_exactly_the_enum_values(db: Path) -> None:
    SqliteStore(db).close()
    tables = {name: sql for kind, name, sql in schema(db) if kind == "table"}
    for table, enum in (
        ("executions", ExecutionPhase),
        ("node_executions", NodePhase),
        ("attempts", AttemptPhase),
    ):
        check = re.search(r"CHECK \((phase = .*?)\)", tables[table] or "", re.S)
        assert check is not None, table
        assert set(re.findall(r"'(\w+)'", check.group(1))) == {p.value for p in enum}, table


def test_every_query_is_named_once_and_parameters_are_named() -> None:
    assert {"commit_execution", "insert_node", "update_node", "list_executions", "events"} <= set(QUERIES)
    for name, sql in QUERIES.items():
        assert "?" not in sql, name
        assert not sql.rstrip().endswith(";"), name


def test_check_constraints_are_enforced_as_store_errors(db: Path) -> None:
    with SqliteStore(db) as store:
        loaded = store.create_execution(execution())
        bogus = NodeRecord("ex-1", "n", NodePhase.QUEUED).evolve(phase=_FakePhase("WHATEVER"))
        with pytest.raises(StoreError, match="CHECK constraint"):
            store.commit_round(RoundWrite(loaded, nodes=[bogus]), owner=None)
        assert store.get_execution("ex-1") == loaded


class _FakePhase:
    """Stands in for a phase the schema does not know (only its ``value`` is read)."""

    def __init__(self, value: str) -> None:
        self.value = value


# -- several processes on one file ----------------------------------------------------------------


def _bump(path: str, name: str, times: int, barrier: Any, results: Any) -> None:
    """Commit ``times`` increments of outputs["n"], retrying each conflict from a fresh read."""
    store = SqliteStore(path)
    conflicts = 0
    barrier.wait()
    done = 0
    while done < times:
        cur = store.get_execution("ex-1")
        assert cur.outputs is not None
        write = RoundWrite(
            cur.evolve(outputs={"n": cur.outputs["n"] + 1}),
            events=[Event("ex-1", 0.0, EventKind.EXECUTION, "BUMP", message=name)],
        )
        try:
            store.commit_round(write, owner=None)
        except ConflictError:
            conflicts += 1
            continue
        done += 1
    store.close()
    results.put((name, conflicts))


def test_two_processes_never_lose_an_increment(db: Path) -> None:
    with SqliteStore(db) as store:
        store.create_execution(execution(outputs={"n": 0}))
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_bump, args=(str(db), f"p{i}", 200, barrier, results)) for i in range(2)]
    for p in procs:
        p.start()
    outcome = dict(results.get(timeout=90) for _ in procs)
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    with SqliteStore(db) as store:
        final = store.get_execution("ex-1")
        assert (final.outputs, final.version) == ({"n": 400}, 401)
        by_writer = [e.message for e in store.events("ex-1")]
    assert sorted(by_writer) == ["p0"] * 200 + ["p1"] * 200
    assert set(outcome) == {"p0", "p1"}


def _open_and_create(path: str, eid: str, barrier: Any, results: Any) -> None:
    barrier.wait()
    try:
        with SqliteStore(path) as store:
            store.create_execution(execution(eid))
        results.put((eid, "ok"))
    except Exception as exc:  # reported to the parent, which asserts on it
        results.put((eid, repr(exc)))


def test_processes_opening_a_fresh_file_at_once_migrate_it_once(db: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(4), ctx.Queue()
    eids = [f"ex-{i}" for i in range(4)]
    procs = [ctx.Process(target=_open_and_create, args=(str(db), eid, barrier, results)) for eid in eids]
    for p in procs:
        p.start()
    outcome = dict(results.get(timeout=90) for _ in procs)
    for p in procs:
        p.join(timeout=30)
    assert outcome == dict.fromkeys(eids, "ok")
    with SqliteStore(db) as store:
        assert sorted(r.id for r in store.list_executions()) == eids
    raw = sqlite3.connect(db)
    try:
        assert raw.execute("SELECT COUNT(*) FROM schema_migrations").fetchone()[0] == len(MIGRATIONS)
    finally:
        raw.close()


# -- the catalog tables (migration 0002) ----------------------------------------------------------


def _entry(key: str, **changes: Any) -> CatalogEntry:
    base = CatalogEntry("proj", "t", key, {"k": key}, {"o": {"int": 1}}, "ex-1", "n", 1, 1.0)
    return replace(base, **changes)


def test_a_0001_file_with_data_is_migrated_in_place(db: Path) -> None:
    raw = sqlite3.connect(db, isolation_level=None)
    try:
        assert migrations.migrate(raw, MIGRATIONS, where=str(db), target=1) == [1]
        raw.execute(QUERIES["insert_execution"], codec.execution_to_row(execution()))
        raw.execute(QUERIES["insert_node"], codec.node_to_row(NodeRecord("ex-1", "a", NodePhase.RUNNING)))
    finally:
        raw.close()
    with SqliteStore(db) as store:
        loaded = store.get_execution("ex-1")
        assert [n.node_id for n in store.load_nodes("ex-1")] == ["a"]
        store.commit_round(
            RoundWrite(loaded, catalog_puts=[_entry("k")], lineage=[LineageRow("ex-1", "a", LineageDirection.IN, "x", "h")]),
            owner=None,
        )
        assert store.catalog_get_many("proj", ["k"]) == {"k": _entry("k")}
        assert store.lineage_by_hash("h", "in") == [LineageRow("ex-1", "a", LineageDirection.IN, "x", "h")]
    fresh = db.with_name("fresh.db")
    SqliteStore(fresh).close()
    assert schema(db) == schema(fresh)


def test_an_error_after_the_catalog_statements_rolls_back_the_whole_round(db: Path) -> None:
    with SqliteStore(db) as store:
        loaded = store.create_execution(execution())
        assert store.reserve("proj", "held", "ex-1/a", ttl=10.0, now=0.0) == "ex-1/a"
        bad = RoundWrite(
            loaded,
            nodes=[NodeRecord("ex-1", "a", NodePhase.SUCCEEDED)],
            events=[Event("ex-1", 1.0, EventKind.NODE, "SUCCEEDED", node_id="a")],
            # the lineage is written last; a task of None breaks NOT NULL in the catalog put before it
            catalog_puts=[_entry("k-good"), _entry("k-bad", task=None)],
            releases=[("proj", "held", "ex-1/a")],
            lineage=[LineageRow("ex-1", "a", LineageDirection.OUT, "o", "h")],
        )
        with pytest.raises(StoreError, match="NOT NULL"):
            store.commit_round(bad, owner=None)
        assert store.get_execution("ex-1") == loaded
        assert (store.load_nodes("ex-1"), store.events("ex-1"), store.lineage_of("ex-1")) == ([], [], [])
        assert store.catalog_list() == []
        assert store.reserve("proj", "held", "ex-2/b", ttl=10.0, now=1.0) == "ex-1/a"


def test_lists_longer_than_the_sqlite_parameter_limit(db: Path) -> None:
    keys = [f"{i:064x}" for i in range(40_000)]  # SQLITE_MAX_VARIABLE_NUMBER is 32766 (999 on old builds)
    assert len(keys) > 32_766
    with SqliteStore(db) as store:
        loaded = store.create_execution(execution())
        store.commit_round(RoundWrite(loaded, catalog_puts=[_entry(k) for k in keys[::1000]]), owner=None)
        assert sorted(store.catalog_get_many("proj", keys)) == keys[::1000]
        assert store.catalog_evict("proj", keys=keys) == 40
        assert store.renew_reservations([f"ex-{i}" for i in range(40_000)], ttl=1.0, now=0.0) == 0


def test_list_parameters_expand_to_fixed_slots() -> None:
    sql = expand_list_params("SELECT 1 WHERE k IN (:keys*) AND p = :project", slots=3)
    assert sql == "SELECT 1 WHERE k IN (:keys_0, :keys_1, :keys_2) AND p = :project"
    values = ["a", "b", "a", *[str(i) for i in range(LIST_SLOTS)]]  # LIST_SLOTS + 2 distinct values
    chunks = list(list_chunks("keys", values, project="p"))
    assert [slots for slots, _ in chunks] == [LIST_SLOTS, LIST_TIERS[0]]
    assert all(len(params) == slots + 1 and params["project"] == "p" for slots, params in chunks)
    assert [chunks[0][1][f"keys_{i}"] for i in range(3)] == ["a", "b", "0"]
    assert [chunks[1][1][f"keys_{i}"] for i in range(3)] == [str(LIST_SLOTS - 2), str(LIST_SLOTS - 1), None]
    assert [slots for slots, _ in list_chunks("keys", [str(i) for i in range(LIST_TIERS[0] + 1)])] == [LIST_TIERS[1]]
    assert list(list_chunks("keys", [])) == []
    assert list_query("catalog_get_many", LIST_TIERS[0]).count(":keys_") == LIST_TIERS[0]


@pytest.mark.parametrize(
    ("query", "params", "index"),
    [
        ("catalog_get_many", {"project": "p", **{f"keys_{i}": "k" for i in range(LIST_SLOTS)}}, "sqlite_autoindex_catalog_entries_1"),
        ("catalog_list_task", {"project": "p", "limit": 10, "task": "t"}, "catalog_entries_by_task"),
        ("catalog_list_project", {"project": "p", "limit": 10}, "catalog_entries"),
        ("catalog_evict_task", {"project": "p", "task": "t"}, "catalog_entries_by_task"),
        ("catalog_evict_source", {"project": "p", "source_execution": "e"}, "catalog_entries_by_source"),
        ("renew_reservations", {"expires_at": 1.0, "now": 0.0, **{f"execution_ids_{i}": "e" for i in range(LIST_SLOTS)}}, "catalog_reservations_by_execution"),
        ("lineage_by_hash", {"value_hash": "h", "direction": "in", "limit": 5}, "lineage_by_hash"),
        ("lineage_of", {"execution_id": "e"}, "sqlite_autoindex_lineage_1"),
    ],
)
def test_catalog_queries_use_their_index(db: Path, query: str, params: dict[str, Any], index: str) -> None:
    with SqliteStore(db) as store, store._pool.connection() as conn:
        plan = " | ".join(str(row[3]) for row in conn.execute("EXPLAIN QUERY PLAN " + QUERIES[query], params))
    assert index in plan, plan
    assert "SCAN catalog_entries" not in plan and "SCAN lineage" not in plan, plan


def test_lineage_direction_is_checked_by_the_schema(db: Path) -> None:
    with SqliteStore(db) as store:
        store.create_execution(execution())
        with store._pool.connection() as conn, pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            conn.execute(QUERIES["insert_lineage"], {
                "execution_id": "ex-1", "node_id": "a", "direction": "sideways", "name": "x", "value_hash": "h",
            })  # fmt: skip
