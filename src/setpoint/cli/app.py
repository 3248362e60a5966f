"""The `setpoint` command group and what every command shares (the composition root).

It builds `Settings` (the only place, with the client, that reads the environment), opens a
`Client`, and renders results. Exit codes scripts can rely on: 0 success; 1 the execution failed
or was aborted; 2 bad input (spec, type, inputs, usage); 3 not found; 4 store or blob failure;
130 interrupted.
"""

from __future__ import annotations

import sys
from typing import NoReturn

import click
from rich.console import Console

from setpoint.client import Client
from setpoint.settings import Settings

console = Console()
err_console = Console(stderr=True)

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    err_console.print(f"[red]error:[/] {message}", highlight=False)
    sys.exit(code)


class Ctx:
    def __init__(self, home: str | None, db: str | None = None) -> None:
        self.home = home
        self.db = db
        self._client: Client | None = None

    @property
    def settings(self) -> Settings:
        return self.client.settings

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = Client(Settings.from_env(self.home, db_url=self.db))
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


output_option = click.option(
    "--output",
    "-o",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="json prints stable, documented fields for scripts.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--home",
    envvar="SETPOINT_HOME",
    default=None,
    metavar="DIR",
    help="Where setpoint keeps its state (default ~/.setpoint; env SETPOINT_HOME).",
)
@click.option(
    "--db",
    envvar="SETPOINT_DB",
    default=None,
    metavar="URL",
    help="A postgresql://user@host:port/db URL to keep executions in PostgreSQL instead of the SQLite "
    "file in the home (blobs and logs stay in the home; env SETPOINT_DB).",
)
@click.version_option(package_name="setpoint")
@click.pass_context
def cli(ctx: click.Context, home: str | None, db: str | None) -> None:
    """setpoint: declarative, level-triggered workflows for ML and data pipelines."""
    state = Ctx(home, db)
    ctx.obj = state
    ctx.call_on_close(state.close)
