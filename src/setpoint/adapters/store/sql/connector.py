"""What the one SQL store needs from a database: a `Connector` that runs bodies on `Session`s.

`SqlStore` is written once against these two protocols; a backend implements them over its driver.
The connector owns everything about *how* statements reach the database: connections and their
pool, transactions, placeholders and list parameters, text the database cannot hold, retries, and
translating driver exceptions into `setpoint.errors` (naming what was being done and where). The
store owns *what* is run: which named query, with which parameters, and what the rows mean.

A body is a function, not the block of a ``with`` statement, because a connector may run it more
than once: PostgreSQL retries a transaction that failed before its COMMIT was sent (it provably
changed nothing), and a context manager cannot re-run its block. So a body must build its result
only from what it reads, and leave nothing behind when it raises.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from setpoint.adapters.store.codec import RowLike

T = TypeVar("T")

Params = Mapping[str, Any]


class Session(Protocol):
    """One connection lent to one body. ``query`` names a statement (`sql.queries.RAW_QUERIES`).

    Parameters not named by a statement are ignored, so one parameter mapping may serve several.
    """

    def fetch_one(self, query: str, params: Params) -> RowLike | None: ...

    def fetch_all(self, query: str, params: Params) -> list[RowLike]: ...

    def execute(self, query: str, params: Params) -> int:
        """Run a statement; return how many rows it changed."""
        ...

    def execute_many(self, query: str, rows: Sequence[Params]) -> int:
        """Run a statement once per parameter mapping; return how many rows they changed in all."""
        ...

    def fetch_all_in(self, query: str, name: str, values: Sequence[str], params: Params) -> list[RowLike]:
        """Rows of a query with a list parameter (written ``IN (:name*)``) bound to the distinct ``values``."""
        ...

    def execute_in(self, query: str, name: str, values: Sequence[str], params: Params) -> int:
        """`execute` for a query with a list parameter; no values run nothing."""
        ...

    def lock_registry(self) -> None:
        """Make registrations one at a time until the transaction ends (a registration's sequence
        number is the largest so far plus one). A no-op where a write transaction already holds the
        database's only write lock."""
        ...


class Connector(Protocol):
    """Runs bodies against one database; see the module docstring for who does what."""

    def read(self, doing: str, body: Callable[[Session], T]) -> T:
        """``body`` outside any transaction: each statement sees the latest committed state.

        ``doing`` completes "cannot ..." in error messages ("read execution 'ex-1'").
        """
        ...

    def write(self, doing: str, body: Callable[[Session], T]) -> T:
        """``body`` in one transaction, committed when it returns. Any exception rolls the whole
        transaction back and is raised: driver errors as `setpoint.errors.StoreError`, others as
        they are."""
        ...

    def close(self) -> None: ...
