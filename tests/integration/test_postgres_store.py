"""What only the PostgreSQL store has to get right: a shared server that can go away.

The behaviour every backend shares is in tests/contract. These tests are about the schema and its
migrations (equal to a fresh one however it was reached, safe when processes start at once), the
database clock for leases, NOTIFY wake-ups, and failures: a server that is unreachable, cut mid-run,
slow, or lost while a commit is in flight. Each test that needs it gets a database of its own.
"""

from __future__ import annotations

import queue
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support import pg

pg.require_psycopg()

import psycopg  # noqa: E402

from setpoint.adapters.store import codec  # noqa: E402
from setpoint.adapters.store.postgres import (  # noqa: E402
    MIGRATIONS,
    QUERIES,
    PostgresStore,
    RetryPolicy,
    Target,
    current_version_pg,
    escape_text,
    migrate_pg,
    to_psycopg,
    unescape_text,
)
from setpoint.adapters.store.sql.migrations import load_migrations  # noqa: E402
from setpoint.adapters.store.sqlite import MIGRATIONS as SQLITE_MIGRATIONS  # noqa: E402
from setpoint.adapters.store.sqlite import SqliteStore  # noqa: E402
from setpoint.core.model import CatalogEntry, Event, EventKind, ExecutionRecord, NodeRecord  # noqa: E402
from setpoint.core.phases import AttemptPhase, ExecutionPhase, NodePhase  # noqa: E402
from setpoint.errors import ConflictError, StoreError  # noqa: E402
from setpoint.ports import RoundWrite  # noqa: E402
from tests.support.pg import pg_session_fixture  # noqa: E402, F401 (the pg_session_url fixture)
from tests.support.tcp_proxy import TcpProxy  # noqa: E402


def execution(eid: str = "ex-1", **changes: Any) -> ExecutionRecord:
    base = ExecutionRecord(eid, "proj", "wf", "spec", "code", {"x": {"int": 1}}, created_at=1.0)
    return base.evolve(**changes)


def entry(key: str, **changes: Any) -> CatalogEntry:
    fields: dict[str, Any] = {
        "project": "proj",
        "task": "t",
        "key": key,
        "components": {"k": key},
        "outputs": {"o": {"int": 1}},
        "source_execution": "ex-1",
        "source_node": "n",
        "source_attempt": 1,
        "created_at": 1.0,
        **changes,
    }
    return CatalogEntry(**fields)


@pytest.fixture
def fresh() -> Iterator[str]:
    """A database of this test's own, for tests about creating and migrating the schema."""
    with pg.fresh_database() as url:
        yield url


@pytest.fixture
def url(pg_session_url: str | None) -> str:
    """The module's shared, already migrated database, emptied for this test."""
    return pg.emptied(pg_session_url)


def connect(url: str) -> Any:
    return psycopg.connect(url, autocommit=True)


def schema(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Everything about the schema that a migration could get wrong, from the catalogs."""
    queries = {
        "columns": """
            SELECT table_name, ordinal_position, column_name, data_type, is_nullable, column_default,
                   collation_name, is_identity, identity_generation
            FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY 1, 2""",
        "indexes": """
            SELECT tablename, indexname, indexdef FROM pg_indexes
            WHERE schemaname = current_schema() ORDER BY 1, 2""",
        "constraints": """
            SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid) FROM pg_constraint
            WHERE connamespace = current_schema()::regnamespace ORDER BY 1, 2""",
        "triggers": """
            SELECT tgrelid::regclass::text, tgname, pg_get_triggerdef(oid) FROM pg_trigger
            WHERE NOT tgisinternal ORDER BY 1, 2""",
        "functions": """
            SELECT proname, pg_get_functiondef(oid) FROM pg_proc
            WHERE pronamespace = current_schema()::regnamespace ORDER BY 1""",
        "sequences": """
            SELECT sequencename, data_type, start_value, increment_by FROM pg_sequences
            WHERE schemaname = current_schema() ORDER BY 1""",
        "migrations": "SELECT version, name FROM schema_migrations ORDER BY version",
    }
    with connect(url) as conn:
        return {name: [tuple(r) for r in conn.execute(sql).fetchall()] for name, sql in queries.items()}


def backends(url: str, *, listening: bool | None = None) -> list[int]:
    """The server pids of the setpoint connections to ``url``'s database (excluding this probe)."""
    sql = """
        SELECT pid FROM pg_stat_activity
        WHERE datname = current_database() AND application_name = 'setpoint' AND pid <> pg_backend_pid()
    """
    if listening is not None:
        sql += " AND query " + ("=" if listening else "<>") + " 'LISTEN setpoint'"
    with connect(url) as conn:
        return [int(r[0]) for r in conn.execute(sql)]


def terminate(url: str, pids: list[int]) -> None:
    with connect(url) as conn:
        for pid in pids:
            conn.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))


# -- migrations -----------------------------------------------------------------------------------


def test_stepwise_migration_with_data_gives_the_fresh_schema(fresh: str) -> None:
    PostgresStore(fresh).close()
    expected = schema(fresh)
    assert expected["migrations"] == [(m.version, m.name) for m in MIGRATIONS]
    for stop in range(len(MIGRATIONS)):
        with pg.fresh_database() as step_url:
            with connect(step_url) as conn:
                conn.row_factory = psycopg.rows.dict_row
                assert migrate_pg(conn, MIGRATIONS, where="test", target=stop) == list(range(1, stop + 1))
                if stop >= 1:  # rows written by an older schema survive the upgrade
                    conn.execute(QUERIES["insert_execution"], codec.execution_to_row(execution()))
                    conn.execute(QUERIES["insert_node"], codec.node_to_row(NodeRecord("ex-1", "a", NodePhase.RUNNING)))
            with PostgresStore(step_url) as store:
                if stop >= 1:
                    loaded = store.get_execution("ex-1")
                    assert [n.node_id for n in store.load_nodes("ex-1")] == ["a"]
                    store.commit_round(RoundWrite(loaded, catalog_puts=[entry("k")]), owner=None)
                    assert store.catalog_get_many("proj", ["k"]) == {"k": entry("k")}
            assert schema(step_url) == expected, f"migrated from version {stop}"


def test_reopening_is_idempotent_and_only_reads(url: str) -> None:
    with PostgresStore(url) as store:
        store.create_execution(execution(), [Event("ex-1", 1.0, EventKind.EXECUTION, "QUEUED")])
    before = schema(url)
    with PostgresStore(url) as store:
        assert store.get_execution("ex-1").version == 1
        assert len(store.events("ex-1")) == 1
    assert schema(url) == before


def test_processes_opening_a_fresh_database_at_once_migrate_it_once(fresh: str) -> None:
    n = 6
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def open_it() -> None:
        barrier.wait()
        try:
            PostgresStore(fresh).close()  # each has its own connections, as separate processes would
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert schema(fresh)["migrations"] == [(m.version, m.name) for m in MIGRATIONS]


def test_a_failing_migration_leaves_nothing_behind(fresh: str, tmp_path: Path) -> None:
    (tmp_path / "0001_first.sql").write_text("CREATE TABLE a (x INTEGER);\n")
    (tmp_path / "0002_broken.sql").write_text("CREATE TABLE b (x INTEGER);\nCREATE TABLE oops (;\n")
    found = load_migrations(tmp_path)
    with connect(fresh) as conn:
        conn.row_factory = psycopg.rows.dict_row
        with pytest.raises(psycopg.errors.SyntaxError):
            migrate_pg(conn, found, where="test")
        assert current_version_pg(conn) == 1
        tables = {r["tablename"] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        assert tables == {"a", "schema_migrations"}
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE


def test_someone_elses_database_is_refused_untouched(fresh: str) -> None:
    with connect(fresh) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER)")
    with pytest.raises(StoreError, match=r"not a setpoint store .*customers"):
        PostgresStore(fresh)
    with connect(fresh) as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
    assert tables == ["customers"]


def test_newer_schema_is_refused(fresh: str) -> None:
    PostgresStore(fresh).close()
    with connect(fresh) as conn:
        conn.execute("INSERT INTO schema_migrations (version, name) VALUES (999, 'future')")
    with pytest.raises(StoreError, match="schema version 999, newer than this setpoint knows"):
        PostgresStore(fresh)


def test_the_schema_is_the_twin_of_sqlites(url: str, tmp_path: Path) -> None:
    """Same migrations, tables, columns (in order, with NOT NULL) and indexes as the SQLite schema."""
    assert [(m.version, m.name) for m in MIGRATIONS] == [(m.version, m.name) for m in SQLITE_MIGRATIONS]
    SqliteStore(tmp_path / "s.db").close()
    lite = sqlite3.connect(tmp_path / "s.db")
    try:
        tables = [r[0] for r in lite.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        lite_columns = {
            t: [(str(c[1]), bool(c[3]) or bool(c[5])) for c in lite.execute(f"PRAGMA table_info({t})")]
            for t in tables
            if t != "sqlite_sequence"
        }
        lite_indexes = {
            (str(t), str(n), _index_columns(str(sql)))
            for t, n, sql in lite.execute("SELECT tbl_name, name, sql FROM sqlite_master WHERE type = 'index'")
            if sql is not None
        }
    finally:
        lite.close()
    PostgresStore(url).close()
    dump = schema(url)
    pg_columns: dict[str, list[tuple[str, bool]]] = {}
    for table, _, column, _, nullable, *_ in dump["columns"]:
        pg_columns.setdefault(table, []).append((column, nullable == "NO"))
    pg_indexes = {(t, n, _index_columns(d)) for t, n, d in dump["indexes"] if not n.endswith("_pkey")}
    lite_columns.pop("schema_migrations")
    pg_columns.pop("schema_migrations")
    assert pg_columns == lite_columns
    assert pg_indexes == lite_indexes


def _index_columns(create_index: str) -> str:
    inner = create_index[create_index.rindex("(") + 1 : create_index.rindex(")")]
    return ", ".join(part.strip() for part in inner.split(","))


def test_phase_checks_list_exactly_the_enum_values(url: str) -> None:
    PostgresStore(url).close()
    checks = {(t, d) for t, _, kind, d in schema(url)["constraints"] if kind == "c" and "phase" in d}
    for table, enum in (("executions", ExecutionPhase), ("node_executions", NodePhase), ("attempts", AttemptPhase)):
        (definition,) = [d for t, d in checks if t == table]
        assert set(re.findall(r"'(\w+)'", definition)) == {p.value for p in enum}, table


def test_every_query_is_rewritten_to_named_psycopg_parameters() -> None:
    sql = "-- a comment: :x 50%\nSELECT 1 WHERE k IN (:keys*) AND p = :p AND s LIKE '50%'"
    assert to_psycopg(sql) == "SELECT 1 WHERE k = ANY(%(keys)s) AND p = %(p)s AND s LIKE '50%%'"
    for name, sql in QUERIES.items():
        assert not re.search(r"(?<![:\w]):\w", sql), name
        assert "--" not in sql, name


def test_check_constraints_are_enforced_as_store_errors(url: str) -> None:
    with PostgresStore(url) as store:
        loaded = store.create_execution(execution())
        bogus = NodeRecord("ex-1", "n", NodePhase.QUEUED).evolve(phase=_FakePhase("WHATEVER"))
        with pytest.raises(StoreError, match="check constraint") as info:
            store.commit_round(RoundWrite(loaded, nodes=[bogus]), owner=None)
        dbname = re.search(r"dbname=(\S+)", url)
        assert dbname is not None and dbname.group(1) in str(info.value)
        assert store.get_execution("ex-1") == loaded


class _FakePhase:
    def __init__(self, value: str) -> None:
        self.value = value


@pytest.mark.parametrize(
    ("query", "params", "index"),
    [
        ("catalog_get_many", {"project": "p", "keys": ["k", "l"]}, "catalog_entries_pkey"),
        ("catalog_list_task", {"project": "p", "limit": 10, "task": "t"}, "catalog_entries_by_task"),
        ("catalog_evict_source", {"project": "p", "source_execution": "e"}, "catalog_entries_by_source"),
        (
            "renew_reservations",
            {"expires_at": 1.0, "now": 0.0, "execution_ids": ["e"]},
            "catalog_reservations_by_execution",
        ),
        ("lineage_by_hash", {"value_hash": "h", "direction": "in", "limit": 5}, "lineage_by_hash"),
        ("lineage_of", {"execution_id": "e"}, "lineage_pkey"),
        ("events", {"execution_id": "e", "after_seq": 0, "limit": 5}, "events_by_execution"),
    ],
)
def test_queries_can_use_their_index(url: str, query: str, params: dict[str, Any], index: str) -> None:
    PostgresStore(url).close()
    with connect(url) as conn, conn.transaction():
        conn.execute("SET LOCAL enable_seqscan = off")
        plan = " | ".join(str(r[0]) for r in conn.execute("EXPLAIN " + QUERIES[query], params))
    assert index in plan, plan


# -- text PostgreSQL cannot hold ------------------------------------------------------------------


@given(st.text(alphabet=st.sampled_from("\x00\x01\x02ab☃")), st.text(alphabet=st.sampled_from("\x00\x01\x02ab☃")))
def test_the_nul_escape_is_reversible_and_keeps_byte_order(a: str, b: str) -> None:
    ea, eb = escape_text(a), escape_text(b)
    assert "\x00" not in ea
    assert unescape_text(ea) == a
    assert (a < b) == (ea.encode() < eb.encode()) and (a == b) == (ea == eb)


# -- the database's clock -------------------------------------------------------------------------


def test_db_clock_a_caller_clock_far_ahead_does_not_take_a_live_lease(url: str) -> None:
    future = time.time() + 86_400
    with PostgresStore(url, clock="db") as store, PostgresStore(url) as caller_clock:
        store.create_execution(execution())
        held = store.acquire_lease("ex-1", "a", ttl=30.0, now=0.0)  # the caller's now is ignored
        assert held is not None and held.lease_expires_at is not None
        assert abs(held.lease_expires_at - (time.time() + 30.0)) < 5.0
        assert store.acquire_lease("ex-1", "b", ttl=30.0, now=future) is None
        assert store.renew_leases("a", ttl=60.0, now=future + 1e6) == ["ex-1"]  # still live by the db
        # The same request with the caller's clock would have stolen it: that is what "db" prevents.
        stolen = caller_clock.acquire_lease("ex-1", "b", ttl=30.0, now=future)
        assert stolen is not None and stolen.lease_owner == "b"


def test_db_clock_an_expired_lease_is_free_whatever_the_caller_says(url: str) -> None:
    with PostgresStore(url, clock="db") as store:
        store.create_execution(execution())
        assert store.acquire_lease("ex-1", "a", ttl=0.2, now=0.0) is not None
        assert store.acquire_lease("ex-1", "b", ttl=30.0, now=0.0) is None
        time.sleep(0.3)
        assert store.renew_leases("a", ttl=30.0, now=0.0) == []  # expired by the db's clock
        taken = store.acquire_lease("ex-1", "b", ttl=30.0, now=0.0)
        assert taken is not None and taken.lease_owner == "b"


def test_db_clock_reservations(url: str) -> None:
    future = time.time() + 86_400
    with PostgresStore(url, clock="db") as store:
        assert store.reserve("proj", "k", "ex-1/n", ttl=0.3, now=0.0) == "ex-1/n"
        assert store.reserve("proj", "k", "ex-2/n", ttl=30.0, now=future) == "ex-1/n"
        assert store.renew_reservations(["ex-1"], ttl=0.3, now=future) == 1
        time.sleep(0.4)
        assert store.renew_reservations(["ex-1"], ttl=30.0, now=0.0) == 0
        assert store.reserve("proj", "k", "ex-2/n", ttl=30.0, now=0.0) == "ex-2/n"


def test_clock_must_be_named() -> None:
    with pytest.raises(ValueError, match="clock"):
        PostgresStore("postgresql://x@127.0.0.1:1/x", clock="local")  # type: ignore[arg-type]


# -- wake-ups -------------------------------------------------------------------------------------


def _next(seen: queue.Queue[str], timeout: float = 5.0) -> str:
    return seen.get(timeout=timeout)


def _quiet(seen: queue.Queue[str], wait: float = 0.3) -> bool:
    try:
        extra = seen.get(timeout=wait)
    except queue.Empty:
        return True
    raise AssertionError(f"unexpected wake-up for {extra!r}")


def test_watch_wakes_on_create_abort_and_commit_but_not_on_leases(url: str) -> None:
    seen: queue.Queue[str] = queue.Queue()
    with PostgresStore(url) as store, PostgresStore(url) as other:
        stop = store.watch(seen.put)
        loaded = other.create_execution(execution("ex-1"))  # another store, as another process would
        assert _next(seen) == "ex-1"
        other.acquire_lease("ex-1", "a", 30.0, 0.0)
        other.renew_leases("a", 30.0, 1.0)
        other.release_lease("ex-1", "a")
        other.reserve("proj", "k", "ex-1/n", 30.0, 0.0)
        assert _quiet(seen)
        loaded = other.commit_round(RoundWrite(loaded.evolve(phase=ExecutionPhase.RUNNING)), owner=None)
        assert _next(seen) == "ex-1"
        other.request_abort("ex-1", "user", 2.0)
        assert _next(seen) == "ex-1"
        with pytest.raises(ConflictError):
            other.commit_round(RoundWrite(loaded), owner=None)  # stale: nothing written, nothing sent
        assert _quiet(seen)
        stop()
        other.create_execution(execution("ex-2"))
        assert _quiet(seen)
        stop()  # idempotent


def test_watch_leaves_out_the_echo_of_its_own_commits_unless_asked(url: str) -> None:
    mine: queue.Queue[str] = queue.Queue()
    everything: queue.Queue[str] = queue.Queue()
    with PostgresStore(url) as store, PostgresStore(url) as other:
        store.watch(mine.put)
        store.watch(everything.put, own_commits=True)
        loaded = store.create_execution(execution("ex-1"))  # creations are always delivered
        assert _next(mine) == _next(everything) == "ex-1"
        loaded = store.commit_round(RoundWrite(loaded.evolve(phase=ExecutionPhase.RUNNING)), owner=None)
        assert _next(everything) == "ex-1"
        assert _quiet(mine)
        other.commit_round(RoundWrite(loaded), owner=None)  # someone else's commit
        assert _next(mine) == _next(everything) == "ex-1"
        store.request_abort("ex-1", "stop", 3.0)  # so are abort requests
        assert _next(mine) == _next(everything) == "ex-1"


def test_watch_reconnects_after_losing_its_connection(url: str) -> None:
    seen: queue.Queue[str] = queue.Queue()
    with PostgresStore(url) as store:
        store.watch(seen.put)
        (first,) = backends(url, listening=True)
        terminate(url, [first])
        deadline = time.monotonic() + 10
        while not [p for p in backends(url, listening=True) if p != first]:
            assert time.monotonic() < deadline, "the listener did not reconnect"
            time.sleep(0.05)
        store.create_execution(execution("ex-after"))
        assert _next(seen) == "ex-after"
    deadline = time.monotonic() + 5
    while backends(url):  # close() stopped the listener and closed every connection
        assert time.monotonic() < deadline, backends(url)
        time.sleep(0.05)


def test_a_failing_callback_does_not_stop_the_listener(url: str) -> None:
    seen: list[str] = []

    def callback(eid: str) -> None:
        seen.append(eid)
        if eid == "ex-bad":
            raise RuntimeError("boom")

    with PostgresStore(url) as store:
        store.watch(callback)
        store.create_execution(execution("ex-bad"))
        store.create_execution(execution("ex-good"))
        deadline = time.monotonic() + 5
        while seen != ["ex-bad", "ex-good"]:
            assert time.monotonic() < deadline, seen
            time.sleep(0.02)


# -- failures -------------------------------------------------------------------------------------


def test_an_unreachable_server_is_a_store_error_naming_it_without_the_password() -> None:
    pg.require_server()
    started = time.monotonic()
    with pytest.raises(StoreError) as info:
        PostgresStore("postgresql://someone:s3cret-pw@127.0.0.1:1/nowhere")
    assert time.monotonic() - started < 5.0
    message = str(info.value)
    assert "127.0.0.1:1/nowhere" in message and "unreachable" in message and "after 4 attempts" in message
    assert "s3cret-pw" not in message


def test_the_password_is_never_shown(url: str) -> None:
    with_password = url + " password=s3cret-pw"  # trust auth ignores it
    with PostgresStore(with_password) as store:
        assert "s3cret-pw" not in repr(store) + store.where
        loaded = store.create_execution(execution())
        bogus = NodeRecord("ex-1", "n", NodePhase.QUEUED).evolve(phase=_FakePhase("WHATEVER"))
        with pytest.raises(StoreError, match="check constraint") as info:
            store.commit_round(RoundWrite(loaded, nodes=[bogus]), owner=None)
    assert "s3cret-pw" not in str(info.value)


def test_dropped_connections_are_replaced_for_reads_and_unsent_writes(url: str) -> None:
    with PostgresStore(url) as store:
        loaded = store.create_execution(execution())
        terminate(url, backends(url))
        assert store.get_execution("ex-1") == loaded  # retried on a new connection
        terminate(url, backends(url))
        committed = store.commit_round(RoundWrite(loaded.evolve(outputs={"n": 1})), owner=None)
        assert committed.version == 2  # failed before COMMIT was sent: safe to run again, applied once
        assert [e.version for e in [store.get_execution("ex-1")]] == [2]


def test_a_connection_lost_during_commit_is_ambiguous_and_not_retried(url: str) -> None:
    with PostgresStore(url) as store:
        loaded = store.create_execution(execution())
        calls = []

        def kill_own_backend(conn: Any) -> None:
            calls.append(1)
            terminate(url, [conn.info.backend_pid])

        store.before_commit = kill_own_backend
        with pytest.raises(StoreError, match="may or may not have been applied"):
            store.commit_round(RoundWrite(loaded.evolve(outputs={"n": 1})), owner=None)
        assert calls == [1]  # not retried
        store.before_commit = None
        current = store.get_execution("ex-1")  # reload and reconcile
        assert current.version in (1, 2)
        assert (
            store.commit_round(RoundWrite(current.evolve(outputs={"n": 2})), owner=None).version == current.version + 1
        )


def test_a_cut_network_fails_reads_within_the_retry_budget_then_recovers(url: str) -> None:
    server = Target.parse(url)
    with TcpProxy(server.host, int(server.port)) as proxy:
        via_proxy = f"{url} host=127.0.0.1 port={proxy.port}"
        policy = RetryPolicy(attempts=4, first_delay=0.05, budget=2.0)
        with PostgresStore(via_proxy, retry=policy) as store:
            loaded = store.create_execution(execution())
            proxy.cut()
            started = time.monotonic()
            with pytest.raises(StoreError, match=rf"127\.0\.0\.1:{proxy.port}/.*unreachable after 4 attempts"):
                store.get_execution("ex-1")
            assert time.monotonic() - started < 3.0
            proxy.restore()
            assert store.get_execution("ex-1") == loaded


def test_a_short_outage_is_ridden_out_by_the_read_retries(url: str) -> None:
    server = Target.parse(url)
    with (
        TcpProxy(server.host, int(server.port)) as proxy,
        PostgresStore(f"{url} host=127.0.0.1 port={proxy.port}") as store,
    ):
        loaded = store.create_execution(execution())
        proxy.cut()
        threading.Timer(0.25, proxy.restore).start()
        assert store.get_execution("ex-1") == loaded


def test_a_statement_stuck_on_a_lock_times_out_as_a_store_error(url: str) -> None:
    with PostgresStore(url, statement_timeout=0.5) as store:
        loaded = store.create_execution(execution())
        with connect(url) as holder:
            holder.execute("BEGIN")
            holder.execute("SELECT * FROM executions WHERE id = 'ex-1' FOR UPDATE")
            started = time.monotonic()
            with pytest.raises(StoreError, match="statement timeout"):
                store.commit_round(RoundWrite(loaded), owner=None)
            assert time.monotonic() - started < 2.0  # not retried
            holder.execute("ROLLBACK")
        assert store.commit_round(RoundWrite(loaded), owner=None).version == 2


def test_rounds_putting_the_same_keys_in_opposite_orders_do_not_deadlock(url: str) -> None:
    keys = [f"k{i:03d}" for i in range(50)]
    errors: list[BaseException] = []
    with PostgresStore(url) as store:
        for eid in ("ex-a", "ex-b"):
            store.create_execution(execution(eid))

        def rounds(eid: str, order: list[str]) -> None:
            try:
                for i in range(20):
                    current = store.get_execution(eid)
                    puts = [entry(k, source_execution=eid, created_at=float(i)) for k in order]
                    store.commit_round(RoundWrite(current, catalog_puts=puts), owner=None)
            except BaseException as exc:
                errors.append(exc)

        threads = [
            threading.Thread(target=rounds, args=("ex-a", keys)),
            threading.Thread(target=rounds, args=("ex-b", keys[::-1])),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert len(store.catalog_list(limit=100)) == 50


def test_the_pool_never_opens_more_than_its_size(url: str) -> None:
    with PostgresStore(url, pool_size=2) as store:
        store.create_execution(execution())
        peak = 0

        def read() -> None:
            for _ in range(30):
                store.get_execution("ex-1")

        threads = [threading.Thread(target=read) for _ in range(6)]
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            peak = max(peak, len(backends(url)))
        for t in threads:
            t.join()
        assert 1 <= peak <= 2


# -- choosing the backend -------------------------------------------------------------------------


def test_settings_choose_the_store(url: str, tmp_path: Path) -> None:
    from setpoint.client.embedded import open_store
    from setpoint.config.settings import Settings

    assert Settings.from_env(tmp_path, env={}).db_url is None
    assert Settings.from_env(tmp_path, env={"SETPOINT_DB": "postgresql://a@b/c"}).db_url == "postgresql://a@b/c"
    chosen = Settings.from_env(tmp_path, env={"SETPOINT_DB": "postgresql://a@b/c"}, db_url=url)
    assert chosen.db_url == url  # an explicit value (the --db option) wins over the environment
    dbname = re.search(r"dbname=(\S+)", url)
    assert dbname is not None
    store = open_store(Settings(home=tmp_path, db_url=pg.uri(dbname.group(1))))
    try:
        assert isinstance(store, PostgresStore) and store.clock == "db"
    finally:
        store.close()
    lite = open_store(Settings(home=tmp_path, db_url=f"sqlite://{tmp_path / 'x.db'}"))
    assert isinstance(lite, SqliteStore) and lite.path == tmp_path / "x.db"
    lite.close()
    default = open_store(Settings(home=tmp_path))
    assert isinstance(default, SqliteStore) and default.path == tmp_path / "setpoint.db"
    default.close()
    with pytest.raises(StoreError, match="must be a postgresql:// URL"):
        open_store(Settings(home=tmp_path, db_url="mysql://root@localhost/x"))
