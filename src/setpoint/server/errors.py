"""Errors as JSON with stable codes: ``{"error": {"code": "...", "message": "..."}}``.

The code is what scripts branch on; the message says what to fix. Bad input is always a 4xx, an
unreachable store a 503; a 500 means a bug in setpoint.
"""

from __future__ import annotations

from typing import Any

from setpoint.errors import (
    AlreadyExistsError,
    BlobError,
    ConflictError,
    InputError,
    NotFoundError,
    RegistrationConflictError,
    SetpointError,
    SpecError,
    StoreError,
    UserError,
)

# (exception class, HTTP status, code): the first match wins, so subclasses come first.
ERROR_TABLE: tuple[tuple[type[Exception], int, str], ...] = (
    (RegistrationConflictError, 409, "registration_conflict"),
    (NotFoundError, 404, "not_found"),
    (SpecError, 422, "invalid_spec"),
    (InputError, 422, "invalid_input"),
    (UserError, 400, "bad_request"),
    (AlreadyExistsError, 409, "already_exists"),
    (ConflictError, 409, "conflict"),
    (StoreError, 503, "store_unavailable"),
    (BlobError, 503, "blob_unavailable"),
    (SetpointError, 409, "not_available"),
)

# Codes raised by the server itself.
UNAUTHENTICATED = (401, "unauthenticated")
FORBIDDEN = (403, "forbidden")
INVALID_REQUEST = (422, "invalid_request")
INTERNAL = (500, "internal")


class ApiError(Exception):
    """Raised by routes for errors that are not `SetpointError`s (auth, request shape)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def classify(exc: Exception) -> tuple[int, str]:
    for cls, status, code in ERROR_TABLE:
        if isinstance(exc, cls):
            return status, code
    return INTERNAL


def body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}
