"""One family of errors, so callers can tell what went wrong and what to do about it.

User errors (a bad spec, a type mismatch, a task that raised) are distinct from system errors (a
lost worker, a store that is down). Adapters translate driver exceptions into these types at the
edge; nothing above the adapters sees a ``sqlite3`` or ``psycopg`` exception.
"""

from __future__ import annotations


class SetpointError(Exception):
    """Base of every error setpoint raises on purpose."""

    exit_code = 1


class UserError(SetpointError):
    """Something the user declared or supplied is wrong; retrying will not help."""

    exit_code = 2


class SpecError(UserError):
    """A workflow or task declaration is invalid (found when compiling or loading a spec)."""


class TypeMismatchError(SpecError):
    """A value or a binding does not have the type the interface declares."""


class InputError(UserError):
    """Inputs given to an execution are missing, unknown or of the wrong type."""


class UnsupportedTypeError(SpecError):
    """A Python type cannot be represented as a setpoint literal."""


class NotFoundError(UserError):
    """An execution, node, attempt or entity does not exist."""

    exit_code = 3


class RegistrationConflictError(UserError):
    """A task, workflow or launch plan name and version is already registered with other content."""


class AlreadyExistsError(SetpointError):
    """Creating something whose id is taken."""


class ConflictError(SetpointError):
    """A compare-and-swap failed: someone else changed the row first. Reload and decide again."""


class LeaseLostError(ConflictError):
    """This controller no longer holds the lease on an execution."""


class StoreError(SetpointError):
    """The store failed (I/O error, corruption, unreachable). Usually worth retrying."""

    exit_code = 4


class BlobError(SetpointError):
    """A blob is missing, unreadable, or failed its checksum."""

    exit_code = 4


# How the REST API reports each error: (exception class, HTTP status, stable code). The server
# classifies with it (the first match wins, so subclasses come first) and a remote client maps the
# code back to the class, so the two ends cannot drift apart.
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


class TaskError(Exception):
    """Raise from a task to fail the attempt with a clear message.

    ``retryable=False`` fails the node at once, without using its remaining retries.
    """

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class NonRetryableError(TaskError):
    """A task failure that retrying cannot fix (bad data, a violated precondition)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)
