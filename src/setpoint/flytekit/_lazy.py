"""Lazy re-exports: a module of `setpoint.flytekit` names each of its attributes as "module:attr".

``import setpoint.flytekit`` loads nothing but these tables; an attribute's defining module is
imported the first time the attribute is read, so ``from setpoint.flytekit import task`` costs what
``from setpoint import task`` costs, and not the type engine, pandas or the SQLite task.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping


def exports(module: str, names: Mapping[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of a module that re-exports ``names`` lazily."""

    def getattr_(name: str) -> object:
        target = names.get(name)
        if target is None:
            raise AttributeError(
                f"module {module!r} has no attribute {name!r} (see docs/migrating-from-flyte.md for what "
                "setpoint supports and what to use instead)"
            )
        where, _, attr = target.partition(":")
        return getattr(importlib.import_module(where), attr)

    def dir_() -> list[str]:
        return sorted(names)

    return getattr_, dir_
