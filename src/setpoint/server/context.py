"""What every route handler shares: the client it serves, the auth check and the project scope.

`Api` is built once per app. Route modules (`setpoint.server.routes`) take it and return their
routes; it holds no route itself. Scoping is here so every route applies it the same way: an
execution or cursor of another project is "not found", as if it did not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from fastapi import Request
from fastapi.security import HTTPAuthorizationCredentials

from setpoint.client.embedded import Client
from setpoint.core.model import ExecutionRecord
from setpoint.errors import BlobError, InputError, NotFoundError
from setpoint.ports import TokenRecord
from setpoint.server import tokens
from setpoint.server.errors import FORBIDDEN, UNAUTHENTICATED, ApiError
from setpoint.server.routing import PREFIX, Principal

# How a record's literal values (inputs, outputs) are shown: plain JSON for people and scripts,
# or the literals as stored (tags and blob references intact) for clients that rebuild records.
Values = Literal["plain", "literal"]


class Api:
    """The shared state of the handlers: one client (and so one store, blob store, maybe controller)."""

    def __init__(self, client: Client, *, auth: bool) -> None:
        self.client = client
        self.auth = auth
        # Set by `setpoint server` to its shutdown flag: open streams end when it turns true.
        self.stopping: Callable[[], bool] = lambda: False

    def principal(self, request: Request, credentials: HTTPAuthorizationCredentials | None, role: str) -> Principal:
        if not self.auth:
            return Principal(None, "admin")
        if credentials is None or not credentials.credentials:
            raise ApiError(*UNAUTHENTICATED, "this route needs a bearer token (Authorization: Bearer <token>)")
        record: TokenRecord | None = tokens.lookup(self.client.store, credentials.credentials)
        if record is None:
            raise ApiError(*UNAUTHENTICATED, "the bearer token is not valid")
        project = request.path_params.get("project")
        if project is not None and project != record.project:
            raise NotFoundError(f"project '{project}' not found")
        if not tokens.allows(record.role, role):
            raise ApiError(*FORBIDDEN, f"this route needs the {role} role; the token has {record.role}")
        return Principal(record.project, record.role)

    def execution(self, project: str, execution_id: str) -> ExecutionRecord:
        """The execution, if it is in ``project``; not found otherwise."""
        rec = self.client.get(execution_id)
        if rec.project != project:
            raise NotFoundError(f"execution {execution_id!r} not found")
        return rec

    def check_bundle(self, digest: str) -> None:
        try:
            self.client.bundles.path(digest)
        except BlobError:
            raise InputError(
                f"code bundle {digest[:12]} is not in the blob store; upload it first "
                f"(PUT {PREFIX}/projects/<project>/bundles/<digest>, as `setpoint --server URL register` does)"
            ) from None
