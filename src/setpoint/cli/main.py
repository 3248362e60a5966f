"""Entry point of the `setpoint` command: builds the command group and maps errors to exit codes.

Exit codes scripts can rely on: 0 success; 1 the execution failed or was aborted; 2 bad input
(spec, type, inputs, usage); 3 not found; 4 store or blob failure; 130 interrupted.
"""

from __future__ import annotations

from setpoint.cli import catalog, commands, launchplans, server  # noqa: F401  (importing registers the commands)
from setpoint.cli.app import cli, fail
from setpoint.errors import SetpointError


def main() -> None:
    try:
        cli(standalone_mode=True)
    except SetpointError as e:
        fail(str(e), e.exit_code)


if __name__ == "__main__":
    main()
