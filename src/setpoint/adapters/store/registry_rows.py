"""Rows of the registry tables (projects, registered entities, activations, fired ticks, API tokens).

Like `codec` for executions: the SQL stores and the in-memory fake build and read the very same rows
here, so they cannot disagree on a column, and argument checks raise the same errors everywhere.
"""

from __future__ import annotations

import json
from typing import Any

from setpoint.adapters.store.codec import Row, RowLike
from setpoint.errors import InputError, NotFoundError
from setpoint.ports import ENTITY_KINDS, ROLES, Activation, RegisteredEntity, TickRecord, TokenRecord

KIND_NAMES = {"task": "task", "workflow": "workflow", "launchplan": "launch plan"}


def check_kind(kind: str) -> None:
    if kind not in ENTITY_KINDS:
        raise InputError(f"unknown entity kind {kind!r}; expected one of {', '.join(ENTITY_KINDS)}")


def check_role(role: str) -> None:
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")


def entity_to_row(e: RegisteredEntity) -> Row:
    check_kind(e.kind)
    return {
        "kind": e.kind,
        "project": e.project,
        "name": e.name,
        "version": e.version,
        "digest": e.digest,
        "spec_digest": e.spec_digest,
        "code_digest": e.code_digest,
        "body": json.dumps(e.body, sort_keys=True, separators=(",", ":"), allow_nan=False),
        "created_at": e.created_at,
    }


def entity_from_row(row: RowLike) -> RegisteredEntity:
    body: Any = json.loads(row["body"])
    return RegisteredEntity(
        kind=str(row["kind"]),
        project=str(row["project"]),
        name=str(row["name"]),
        version=str(row["version"]),
        digest=str(row["digest"]),
        spec_digest=str(row["spec_digest"]),
        code_digest=str(row["code_digest"]),
        body=body,
        created_at=float(row["created_at"]),
        seq=int(row["seq"]),
    )


def entity_not_found(kind: str, project: str, name: str, version: str | None) -> NotFoundError:
    what = f"{KIND_NAMES.get(kind, kind)} '{name}'"
    if version is not None:
        what += f" version '{version}'"
    return NotFoundError(f"{what} is not registered in project '{project}'")


def token_to_row(t: TokenRecord) -> Row:
    check_role(t.role)
    return {"token_hash": t.token_hash, "project": t.project, "role": t.role, "now": t.created_at}


def token_from_row(row: RowLike) -> TokenRecord:
    return TokenRecord(str(row["token_hash"]), str(row["project"]), str(row["role"]), float(row["created_at"]))


def activation_from_row(row: RowLike) -> Activation:
    last = row["last_tick"]
    return Activation(
        project=str(row["project"]),
        name=str(row["name"]),
        version=str(row["version"]),
        activated_at=float(row["activated_at"]),
        last_tick=None if last is None else int(last),
    )


def tick_to_row(t: TickRecord) -> Row:
    if isinstance(t.tick, bool) or not isinstance(t.tick, int):
        raise InputError(f"a schedule tick is whole seconds since the epoch, got {t.tick!r}")
    return {
        "project": t.project,
        "launchplan": t.launchplan,
        "tick": t.tick,
        "version": t.version,
        "execution_id": t.execution_id,
        "fired_at": t.fired_at,
    }


def tick_from_row(row: RowLike) -> TickRecord:
    return TickRecord(
        project=str(row["project"]),
        launchplan=str(row["launchplan"]),
        tick=int(row["tick"]),
        version=str(row["version"]),
        execution_id=str(row["execution_id"]),
        fired_at=float(row["fired_at"]),
    )


def check_tick(tick: TickRecord, execution_id: str) -> None:
    if tick.execution_id != execution_id:
        raise InputError(f"tick {tick.tick} names execution {tick.execution_id!r} but creates {execution_id!r}")
