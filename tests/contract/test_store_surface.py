"""Every store exposes the `Store` port exactly: the same methods, with the same parameters.

The contract suite checks what the stores *do*; this checks their shape, so a method added to the
port (or renamed, or given a new keyword) cannot be forgotten in the in-memory fake or the SQL store
while the behavioural tests still pass on the parts they call.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest

from setpoint.adapters.store.sql import SqlStore
from setpoint.adapters.store.sqlite import SqliteStore
from setpoint.ports import store as port
from setpoint.testing import InMemoryStore


def port_methods() -> dict[str, Callable[..., Any]]:
    """The public methods of `Store`, gathered from every role protocol it is made of."""
    found: dict[str, Callable[..., Any]] = {}
    for cls in reversed(port.Store.__mro__):
        if cls.__module__ != port.__name__:
            continue
        for name, member in vars(cls).items():
            if inspect.isfunction(member) and not name.startswith("_"):
                found[name] = member
    return found


def shape(fn: Callable[..., Any]) -> list[tuple[str, str, bool]]:
    """Each parameter's name, kind and whether it has a default (``self`` left out)."""
    params = list(inspect.signature(fn).parameters.values())[1:]
    return [(p.name, p.kind.name, p.default is not inspect.Parameter.empty) for p in params]


def implementations() -> list[type]:
    classes: list[type] = [InMemoryStore, SqlStore, SqliteStore]
    try:
        from setpoint.adapters.store.postgres import PostgresStore
    except ImportError:  # without the postgres extra; the contract suite then skips it as well
        return classes
    return [*classes, PostgresStore]


def test_the_port_is_the_union_of_its_roles() -> None:
    methods = port_methods()
    some = {"put_spec", "acquire_lease", "commit_round", "catalog_evict", "fire_tick", "get_token", "close"}
    assert some <= set(methods)
    roles = [
        port.ExecutionStore,
        port.NodeStateStore,
        port.CatalogStore,
        port.LineageStore,
        port.RegistryStore,
        port.ScheduleStore,
        port.TokenStore,
    ]
    covered = {name for role in roles for name in dir(role) if name in methods}
    assert covered | {"close"} == set(methods)


@pytest.mark.parametrize("impl", implementations(), ids=lambda c: c.__name__)
def test_each_store_has_every_method_of_the_port_with_its_parameters(impl: type) -> None:
    for name, declared in port_methods().items():
        actual = getattr(impl, name, None)
        assert callable(actual), f"{impl.__name__} lacks {name}"
        assert shape(actual) == shape(declared), f"{impl.__name__}.{name}"
