"""Errors as JSON with stable codes: ``{"error": {"code": "...", "message": "..."}}``.

The code is what scripts branch on; the message says what to fix. Bad input is always a 4xx, an
unreachable store a 503; a 500 means a bug in setpoint. The table of codes and statuses is the
API's contract with its clients (`setpoint.client.errors`); this module applies it.
"""

from __future__ import annotations

from typing import Any

from setpoint.client.errors import API_ERRORS, FORBIDDEN, INTERNAL, INVALID_REQUEST, UNAUTHENTICATED

__all__ = ["FORBIDDEN", "INTERNAL", "INVALID_REQUEST", "UNAUTHENTICATED", "ApiError", "body", "classify"]


class ApiError(Exception):
    """Raised by routes for errors that are not `SetpointError`s (auth, request shape)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def classify(exc: Exception) -> tuple[int, str]:
    for cls, status, code in API_ERRORS:
        if isinstance(exc, cls):
            return status, code
    return INTERNAL


def body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}
