"""Entry point of the `setpoint` command: builds the command group and maps errors to exit codes.

Exit codes scripts can rely on: 0 success; 1 the execution failed or was aborted; 2 bad input
(spec, type, inputs, usage); 3 not found; 4 store or blob failure; 5 the server refused the token;
6 a server cannot listen on its port; 130 interrupted. The table lives here because an exit code
is the CLI's way of reporting an error, as an HTTP status is the server's (`setpoint.client.errors`).
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from pathlib import Path
from typing import TextIO

import click

from setpoint.cli import catalog, commands, decks, launchplans, server  # noqa: F401  (importing registers the commands)
from setpoint.cli.app import EXIT_INTERRUPTED, EXIT_USAGE, JSON_ERRORS, cli, error_code, fail
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


_python_showwarning = warnings.showwarning


def show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """Options setpoint records but does not act on are said as one ``warning: ...`` line, ending
    with where the user's code declares them (not Python's format: its category name and source
    line are noise to a user). Other warnings keep Python's format."""
    from setpoint.sdk.compiler import OverrideWarning  # imported by then: only compiling warns these
    from setpoint.sdk.task import TaskOptionWarning

    if issubclass(category, TaskOptionWarning | OverrideWarning):
        where = Path(filename)
        with contextlib.suppress(ValueError):
            where = where.relative_to(Path.cwd())
        click.echo(f"warning: {message} ({where}:{lineno})", err=True)
    else:
        _python_showwarning(message, category, filename, lineno, file, line)


def main() -> None:
    warnings.showwarning = show_warning
    try:
        rv = cli.main(standalone_mode=False)
    except SetpointError as e:
        fail(str(e), exit_code(e), error_code=error_code(e))
    except click.UsageError as e:
        if JSON_ERRORS["on"]:
            fail(e.format_message(), EXIT_USAGE, error_code="usage")
        e.show()
        sys.exit(e.exit_code)
    except click.ClickException as e:
        fail(e.format_message(), e.exit_code)
    except click.Abort:
        fail("interrupted", EXIT_INTERRUPTED, error_code="interrupted")
    sys.exit(rv if isinstance(rv, int) else 0)


if __name__ == "__main__":
    main()
