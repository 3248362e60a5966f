"""Workflows using task options and `current_context()`: run in-process and through `setpoint run`."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from setpoint.sdk.current import RecoverableException, current_context
from setpoint.sdk.deck import Deck
from setpoint.sdk.task import Resources, Secret, TaskMetadata, task
from setpoint.sdk.workflow import workflow

SECRET_ENV = "SETPOINT_SECRET_DB_PASSWORD"


@task
def where_am_i(note: str = "") -> dict[str, str]:
    ctx = current_context()
    ctx.logging.info("context-log-line %s", note)
    work = Path(ctx.working_directory)
    (work / "scratch.txt").write_text("ok")
    return {
        "project": ctx.execution_id.project,
        "domain": ctx.execution_id.domain,
        "name": ctx.execution_id.name,
        "workdir_ok": str(work.is_dir() and (work / "scratch.txt").exists()),
        "node": ctx.node_id,
    }


@workflow
def context_wf(note: str = "hello") -> dict[str, str]:
    return where_am_i(note=note)


@task(retries=2)
def resumable(start: int) -> int:
    """Attempt 1 checkpoints its progress and asks for a retry; attempt 2 resumes from the checkpoint."""
    cp = current_context().checkpoint
    previous = cp.read()
    if previous is None:
        cp.write(str(start + 40).encode())
        raise RecoverableException("checkpointed; retry me")
    return int(previous.decode()) + 2


@workflow
def checkpoint_wf(start: int = 0) -> int:
    return resumable(start=start)


@task(enable_deck=True)
def report(x: int) -> int:
    Deck("plots", "<p>plot-of-x</p>").append(f"<p>x is {x}</p>")
    current_context().default_deck.append("<b>default-deck-text</b>")
    return x * 2


@workflow
def deck_wf(x: int = 21) -> int:
    return report(x=x)


@task(enable_deck=True)
def failing_report(x: int) -> int:
    Deck("before-failure", f"<p>got as far as {x}</p>")
    raise ValueError("report failed")


@task(secret_requests=[Secret("db", "password")])
def login(user: str) -> str:
    """Uses the secret without revealing it: a digest, and what else of the secret kind it can see."""
    value = current_context().secrets.get("db", "password")
    assert isinstance(value, str)
    visible = sorted(k for k in os.environ if k.startswith(("SETPOINT_SECRET_", "_FSEC_")))
    digest = hashlib.sha256(value.encode()).hexdigest()[:12]
    return f"{user}:{digest}:{len(value)}:visible={','.join(visible) or 'none'}"


@task(secret_requests=[Secret("db", "password")])
def leaky(user: str) -> str:
    value = current_context().secrets.get("db", "password")
    raise ValueError(f"login failed for {user} with password {value!r}")


@task
def snoop() -> str:
    """Asks for a secret it did not request."""
    return str(current_context().secrets.get("db", "password"))


@workflow
def secret_wf(user: str = "ada") -> str:
    return login(user=user)


@workflow
def leaky_wf(user: str = "ada") -> str:
    return leaky(user=user)


@workflow
def snoop_wf() -> str:
    return snoop()


@task(
    container_image="ghcr.io/acme/train:1.2",
    requests=Resources(cpu=1, mem="256Mi"),
    limits=Resources(cpu=2, mem="1Gi"),
    metadata=TaskMetadata(retries=1, cache=True, cache_version="1"),
)
def imaged(x: int) -> int:
    return x + 1


@workflow
def imaged_wf(x: int = 1) -> int:
    return imaged(x=x)
