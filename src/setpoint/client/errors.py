"""The API's error contract: each error's stable code and HTTP status, read by both ends.

The server answers a failed request with ``{"error": {"code", "message"}}`` and the status of the
error's class; the remote client raises the same class back from the code, so a remote command
fails exactly as an embedded one would (and the CLI's exit code matches). This table is that
contract, kept in the client layer because both the server (above it) and the remote client read
it; the base error module (`setpoint.errors`) knows nothing about HTTP.
"""

from __future__ import annotations

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


class ServerUnavailableError(StoreError):
    """The server could not be reached, or answered with something that is not setpoint's API."""


class AuthError(UserError):
    """The server refused the token (401: none or not valid; 403: its role is not enough)."""


# (exception class, HTTP status, stable code). The server classifies with it (the first match
# wins, so subclasses come first) and the remote client maps the code back to the class.
API_ERRORS: tuple[tuple[type[SetpointError], int, str], ...] = (
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

# Codes the server raises itself, for requests that never reach setpoint's own errors.
UNAUTHENTICATED = (401, "unauthenticated")
FORBIDDEN = (403, "forbidden")
INVALID_REQUEST = (422, "invalid_request")
INTERNAL = (500, "internal")

ERROR_CODES: dict[str, type[SetpointError]] = {
    **{code: cls for cls, _, code in API_ERRORS},
    INVALID_REQUEST[1]: InputError,
    "digest_mismatch": InputError,
    "invalid_bundle": InputError,
    "too_large": InputError,
    "method_not_allowed": UserError,
    UNAUTHENTICATED[1]: AuthError,
    FORBIDDEN[1]: AuthError,
}
