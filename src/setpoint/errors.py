"""One family of errors, so callers can tell what went wrong and what to do about it.

User errors (a bad spec, a type mismatch, a task that raised) are distinct from system errors (a
lost worker, a store that is down). Adapters translate driver exceptions into these types at the
edge; nothing above the adapters sees a ``sqlite3`` or ``psycopg`` exception. How an error is
reported is decided where it is reported: HTTP statuses and API codes by the API contract
(`setpoint.client.errors`, which the server answers with), exit codes by the CLI
(`setpoint.cli.main`).
"""

from __future__ import annotations


class SetpointError(Exception):
    """Base of every error setpoint raises on purpose."""


class UserError(SetpointError):
    """Something the user declared or supplied is wrong; retrying will not help."""


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


class BlobError(SetpointError):
    """A blob is missing, unreadable, or failed its checksum."""


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
