"""Test databases on a real PostgreSQL server, for the contract, integration and e2e tests.

The server is named by ``SETPOINT_TEST_PG`` (an admin URL allowed to create databases; default
``postgresql://postgres@127.0.0.1:5432/postgres``). Where it cannot be reached, PostgreSQL tests are
skipped with the reason on a developer's machine, but fail when ``CI=true``: a skipped backend in CI
would let it rot unnoticed.

Creating, migrating and dropping a database costs about 0.5 s here (CREATE DATABASE and DROP
DATABASE wait for the disk), cloning a migrated template about as much, while emptying the tables
of an already migrated database takes about 2 ms. So the contract suite shares one database per
test session (``setpoint_test_<random>``, dropped at the end) and empties it before each store is
made (`pg_session_url`, `emptied`); tests about the schema itself (migrations, concurrent first
opens) get a database of their own (`fresh_database`).
"""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
from collections.abc import Iterator
from typing import Any, NoReturn

import pytest

ADMIN_ENV = "SETPOINT_TEST_PG"
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def admin_url() -> str:
    return os.environ.get(ADMIN_ENV) or DEFAULT_ADMIN_URL


@functools.cache
def server_problem() -> str | None:
    """Why PostgreSQL tests cannot run here, or None when they can."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install -e '.[postgres]')"
    try:
        with psycopg.connect(admin_url(), connect_timeout=3, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"PostgreSQL is not reachable at {_safe(admin_url())} ({' '.join(str(exc).split())}); set {ADMIN_ENV}"
    return None


def skip_or_fail(reason: str, *, module: bool = False) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL is required in CI: {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=module)


def require_psycopg() -> None:
    """At module level: skip (fail in CI) a test module that imports the PostgreSQL store."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        skip_or_fail("psycopg is not installed (pip install -e '.[postgres]')", module=True)


def require_server() -> None:
    problem = server_problem()
    if problem is not None:
        skip_or_fail(problem)


def database_url(name: str) -> str:
    """The admin URL pointed at database ``name``."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    parts: dict[str, Any] = conninfo_to_dict(admin_url())
    parts["dbname"] = name
    return make_conninfo("", **parts)


def uri(name: str) -> str:
    """``postgresql://user@host:port/name`` for command lines (no password support needed in tests)."""
    from psycopg.conninfo import conninfo_to_dict

    parts = conninfo_to_dict(admin_url())
    user = f"{parts['user']}@" if parts.get("user") else ""
    return f"postgresql://{user}{parts.get('host', '127.0.0.1')}:{parts.get('port', 5432)}/{name}"


def _admin() -> Any:
    import psycopg

    return psycopg.connect(admin_url(), autocommit=True, connect_timeout=5)


def create_database() -> str:
    """A new empty database ``setpoint_test_<random>``; returns its name."""
    name = f"setpoint_test_{secrets.token_hex(6)}"
    with _admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_database(name: str) -> None:
    with _admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def fresh_database() -> Iterator[str]:
    """A database of its own for one test (skips or fails without a server); yields its URL."""
    require_server()
    name = create_database()
    try:
        yield database_url(name)
    finally:
        drop_database(name)


def empty_database(url: str) -> None:
    """Delete every row but the schema's own bookkeeping, and restart identities (about 2 ms).

    ``session_replication_role = replica`` skips foreign-key checks (and the NOTIFY trigger), so
    tables can be emptied in any order; it needs a superuser, which the admin URL is.
    """
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                "AND tablename <> 'schema_migrations'"
            )
        ]
        sequences = [
            r[0] for r in conn.execute("SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema()")
        ]
        with conn.transaction():
            conn.execute("SET LOCAL session_replication_role = replica")
            for table in tables:
                conn.execute(f'DELETE FROM "{table}"')
            for seq in sequences:
                conn.execute("SELECT setval(%s, 1, false)", (seq,))


def _safe(url: str) -> str:
    from setpoint.adapters.store.postgres import Target

    return Target.parse(url).where


@pytest.fixture(scope="session", name="pg_session_url")
def pg_session_fixture() -> Iterator[str | None]:
    """A migrated database shared by one test session (or by one module, where imported into one),
    dropped at the end; None when there is no server. Call `empty_database` before each use."""
    if server_problem() is not None:
        yield None
        return
    from setpoint.adapters.store.postgres import PostgresStore

    name = create_database()
    url = database_url(name)
    try:
        PostgresStore(url).close()  # migrate once
        yield url
    finally:
        drop_database(name)


def emptied(session_url: str | None) -> str:
    """``session_url`` emptied for the next test (skips, or fails in CI, without a server)."""
    if session_url is None:
        skip_or_fail(server_problem() or "no PostgreSQL test database")
    empty_database(session_url)
    return session_url
