"""`@eager`: an ``async def`` workflow whose awaited task calls are durable steps.

    @eager
    async def train(n: int) -> float:
        data = await load(n=n)
        if await check(data=data):      # plain Python control flow on real values
            return await fit(data=data)
        return 0.0

An eager workflow runs as one task node. Its body runs in that node's attempt; each awaited call
of a task, a workflow or a map task runs there, in-process, and its result is journaled before the
body goes on: under a key made of the call's position, the entity and its inputs, in the node's
checkpoint (``current_context().checkpoint``, kept by setpoint for the node across attempts). When
the attempt dies (the process is killed, the machine or controller restarts) the node's next
attempt runs the body again and every call already in the journal returns its recorded result
without running: nothing that finished runs twice. A call that was running when the attempt died
runs again, so steps should be idempotent, as with retries.

Differences from flytekit's ``@eager``: the calls run inside the eager node's attempt (they are
not nodes of their own in ``describe``); they run one after another (``asyncio.gather`` of several
calls runs them in turn); a body that calls differently on replay (a different entity or inputs at
the same position) fails the node with the reason instead of mixing results. Journaled results
are pickled: they are only ever read back by this node's own later attempts.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextvars
import functools
import hashlib
import inspect
import json
import pickle
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar, overload

from setpoint.errors import NonRetryableError, SpecError, TaskError
from setpoint.sdk.compiler import Builder, outside_any_body
from setpoint.sdk.context import building
from setpoint.sdk.task import Task

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

JOURNAL_VERSION = 1


def run_to_completion(coro: Coroutine[Any, Any, T]) -> T:
    """Run an eager body's coroutine to its end from synchronous code. Where an event loop already
    runs in this thread (a notebook, a framework's sync API), it runs on a thread of its own, in a
    copy of this context, since a running loop cannot be re-entered."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    ctx = contextvars.copy_context()
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="setpoint-eager") as pool:
        return pool.submit(ctx.run, asyncio.run, coro).result()


class EagerException(TaskError):
    """An awaited call of an eager body failed (flytekit's ``EagerException``): the body may catch it
    (``except EagerException``) and go on; the original error is its ``__cause__``."""


class Journal:
    """The results of an eager body's calls, by position; saved to the node's checkpoint after each."""

    def __init__(self, checkpoint: Any) -> None:
        self._checkpoint = checkpoint
        self.entries: list[dict[str, str]] = []
        raw = checkpoint.read() if checkpoint is not None else None
        if raw:
            data = json.loads(raw)
            if data.get("version") == JOURNAL_VERSION:
                self.entries = list(data["calls"])
        self.replayed = 0  # calls answered from the journal in this attempt

    def lookup(self, index: int, key: str, what: str) -> tuple[bool, Any]:
        if index >= len(self.entries):
            return False, None
        entry = self.entries[index]
        if entry["key"] != key:
            raise NonRetryableError(
                f"eager call {index} ({what}) differs from the one the earlier attempt journaled "
                f"({entry['what']}): an eager body must make the same calls, with the same inputs, "
                "until it reaches new ones"
            )
        self.replayed += 1
        return True, pickle.loads(base64.b64decode(entry["result"]))  # written by this node

    def record(self, index: int, key: str, what: str, result: Any) -> None:
        assert index == len(self.entries)
        self.entries.append(
            {"key": key, "what": what, "result": base64.b64encode(pickle.dumps(result)).decode("ascii")}
        )
        if self._checkpoint is not None:
            self._checkpoint.write(json.dumps({"version": JOURNAL_VERSION, "calls": self.entries}).encode())


class EagerCalls(Builder):
    """The "builder" of a running eager body: each call becomes an awaitable, journaled step."""

    in_process = True

    def __init__(self, name: str, journal: Journal) -> None:
        super().__init__(name)
        self.journal = journal
        self.count = 0

    def _step(self, entity: Any, call: Callable[[], Any], inputs: dict[str, Any]) -> Any:
        index = self.count
        self.count += 1
        what = f"{getattr(entity, 'name', type(entity).__name__)}({', '.join(sorted(inputs))})"
        text = json.dumps([index, getattr(entity, "name", ""), inputs], sort_keys=True, default=repr)
        key = hashlib.sha256(text.encode()).hexdigest()

        async def run() -> Any:
            found, result = self.journal.lookup(index, key, what)
            if found:
                return result
            with outside_any_body():
                try:
                    result = call()
                except Exception as e:  # the call's own error, as the body sees it
                    raise EagerException(f"eager call {index} ({what}) failed: {type(e).__name__}: {e}") from e
            self.journal.record(index, key, what, result)
            return result

        return run()

    def add_task_node(self, task: Task, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        bound = task.signature.bind_partial(*args, **kwargs).arguments
        return self._step(task, lambda: task(*args, **kwargs), dict(bound))

    def add_map_node(self, mt: Any, mapped: dict[str, Any]) -> Any:
        return self._step(mt.task, lambda: mt(**mapped), {"map": mapped})

    def add_subworkflow(self, wf: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return self._step(wf, lambda: wf(*args, **kwargs), {"args": list(args), **kwargs})

    def override(self, entity: Any, overrides: dict[str, Any]) -> None:
        raise SpecError(f"eager workflow '{self.workflow}': with_overrides() is not supported on an eager call")

    def add_order(self, before: str, after: str) -> None:
        raise SpecError(f"eager workflow '{self.workflow}': order calls with await, not >>")

    def new_node_id(self, base: str) -> str:
        raise SpecError(
            f"eager workflow '{self.workflow}': '{base}' (a gate, branch or launch plan) cannot be used in an "
            "eager body; use Python control flow on awaited values"
        )


class EagerTask(Task):
    """An ``async def`` body run as one task whose awaited calls are journaled (see the module)."""

    def __init__(self, body: Callable[..., Any], **options: Any) -> None:
        if not inspect.iscoroutinefunction(body):
            raise SpecError(f"@eager must decorate an 'async def' function, got {getattr(body, '__name__', body)!r}")
        self.body = body

        @functools.wraps(body)
        def run(*args: Any, **kwargs: Any) -> Any:
            return run_to_completion(self._drive(args, kwargs))

        super().__init__(run, **options)

    async def _drive(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        from setpoint.sdk.current import _CURRENT  # the attempt's context, if this runs in one

        ctx = _CURRENT.get()
        journal = Journal(ctx.checkpoint if ctx is not None else None)
        with building(EagerCalls(self.name, journal)):
            return await self.body(*args, **kwargs)


@overload
def eager(fn: F, /) -> EagerTask: ...


@overload
def eager(**options: Any) -> Callable[[F], EagerTask]: ...


def eager(fn: Any = None, /, **options: Any) -> Any:
    """Declare an eager workflow: ``@eager`` or ``@eager(retries=2)`` on an ``async def``.

    It is a task (so ``setpoint run file.py:name`` and a ``@workflow`` can run it) whose awaited
    calls are durable: see `setpoint.sdk.eager`. Task options (``retries=``, ``timeout=``...)
    apply to the eager node.
    """
    if fn is not None:
        return EagerTask(fn, **options)

    def wrap(f: Callable[..., Any]) -> EagerTask:
        return EagerTask(f, **options)

    return wrap
