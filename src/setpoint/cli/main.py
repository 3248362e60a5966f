"""Entry point of the `setpoint` command: builds the command group and maps errors to exit codes.

Exit codes scripts can rely on: 0 success; 1 the execution failed or was aborted; 2 bad input
(spec, type, inputs, usage); 3 not found; 4 store or blob failure; 5 the server refused the token;
130 interrupted. The table lives here because an exit code is the CLI's way of reporting an
error, as an HTTP status is the server's (`setpoint.client.errors`).
"""

from __future__ import annotations

from setpoint.cli import catalog, commands, decks, launchplans, server  # noqa: F401  (importing registers the commands)
from setpoint.cli.app import cli, fail
from setpoint.client.errors import AuthError
from setpoint.errors import BlobError, NotFoundError, SetpointError, StoreError, UserError

# (exception class, exit code): the first match wins, so subclasses come first.
EXIT_CODES: tuple[tuple[type[SetpointError], int], ...] = (
    (AuthError, 5),
    (NotFoundError, 3),
    (UserError, 2),
    (StoreError, 4),
    (BlobError, 4),
)


def exit_code(error: SetpointError) -> int:
    return next((code for cls, code in EXIT_CODES if isinstance(error, cls)), 1)


def main() -> None:
    try:
        cli(standalone_mode=True)
    except SetpointError as e:
        fail(str(e), exit_code(e))


if __name__ == "__main__":
    main()
