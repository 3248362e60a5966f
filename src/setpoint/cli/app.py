"""The `setpoint` command group and what every command shares (the composition root).

It builds `Settings` (the only place, with the client, that reads the environment), opens a
`Client`, and renders results. Exit codes scripts can rely on: 0 success; 1 the execution failed
or was aborted; 2 bad input (spec, type, inputs, usage); 3 not found; 4 store or blob failure;
6 a server cannot listen on its port; 130 interrupted.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from typing import TYPE_CHECKING, NoReturn

import click
from rich.console import Console
from rich.text import Text

from setpoint.client.embedded import Client
from setpoint.config.settings import Settings
from setpoint.errors import InputError, StoreError

if TYPE_CHECKING:
    from setpoint.client.contract import ClientContract


def _console(*, stderr: bool = False) -> Console:
    """A rich console that never hard-wraps what it prints when its stream is not a terminal (a
    file or a pipe gets each line whole); callers pass ``markup=False`` or `Text` for any text
    they do not write themselves, so brackets in values, hints and messages print as they are."""
    out = Console(stderr=stderr)
    if not out.is_terminal:
        out.soft_wrap = True
        if "COLUMNS" not in os.environ:
            out.width = 512  # tables take only the width they need: their cells are not cut at 80
    return out


console = _console()
err_console = _console(stderr=True)

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_STORE = 4
EXIT_PORT_BUSY = 6
EXIT_INTERRUPTED = 130

# Set by ``--output json`` as it is parsed: errors are then JSON on stderr too.
JSON_ERRORS = {"on": False}


def _json_output(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if value == "json":
        JSON_ERRORS["on"] = True
    return value


def error_code(error: BaseException) -> str:
    """The stable code of an error: the API's (`setpoint.client.errors`), so scripts branch alike."""
    from setpoint.client.errors import API_ERRORS, AuthError

    if isinstance(error, AuthError):
        return "unauthenticated"
    return next((code for cls, _, code in API_ERRORS if isinstance(error, cls)), "error")


def fail(message: str, code: int = EXIT_USAGE, *, error_code: str | None = None) -> NoReturn:
    """Print an error (one line; JSON ``{"error": {"code", "message"}}`` with ``--output json``) and exit."""
    if JSON_ERRORS["on"]:
        body = {"error": {"code": error_code or ("usage" if code == EXIT_USAGE else "error"), "message": message}}
        sys.stderr.write(json.dumps(body) + "\n")
    else:
        err_console.print(Text.assemble(("error:", "red"), " ", message), highlight=False, soft_wrap=True)
    sys.exit(code)


def ensure_port_free(host: str, port: int, what: str) -> None:
    """Exit with one clear line (code 6) when ``host:port`` cannot be listened on, before a server
    prints its banner or starts anything."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        if sys.platform != "win32":
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as e:
            busy = "the port is in use" if e.errno in (98, 48, 10048) else e.strerror or str(e)
            fail(
                f"{what} cannot listen on {host}:{port}: {busy} (stop what holds it, or choose another --port)",
                EXIT_PORT_BUSY,
                error_code="port_unavailable",
            )


def _without_password(url: str) -> str:
    """``url`` with the password of its user (``postgresql://u:secret@h/db``) as ``***``: hints are printed."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        host = parts.netloc.rpartition("@")[2]
        return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))
    except ValueError:
        return url


class Ctx:
    def __init__(
        self,
        home: str | None,
        db: str | None = None,
        blobs: str | None = None,
        *,
        server: str | None = None,
        token: str | None = None,
        project: str | None = None,
    ) -> None:
        self.home = home
        self.db = db
        self.blobs = blobs
        self.server = server
        self.token = token
        self.project = project
        self.given: list[str] = []  # the global options given on the command line, for hints
        self._client: ClientContract | None = None

    @property
    def settings(self) -> Settings:
        return self.client.settings

    @property
    def remote(self) -> bool:
        """Whether commands talk to a `setpoint server` (``--server``) instead of opening a store."""
        return bool(self.server)

    @property
    def client(self) -> ClientContract:
        """The client every command talks to: embedded, or remote with ``--server`` (one contract)."""
        if self._client is None:
            try:
                settings = Settings.from_env(self.home, db_url=self.db, blobs_url=self.blobs)
                if self.project:
                    settings = settings.evolve(project=self.project)
                if self.server:
                    from setpoint.client.remote import RemoteClient

                    self._client = RemoteClient(self.server, self.token, self.project, settings=settings)
                else:
                    self._client = Client(settings)
            except OSError as e:
                where = self.home or "the setpoint home"
                why = "it is not a folder" if isinstance(e, (FileExistsError, NotADirectoryError)) else e.strerror or e
                raise StoreError(
                    f"cannot use {where} as the setpoint home: {why} (give a writable folder with --home)"
                ) from None
        return self._client

    def command(self, *args: str) -> str:
        """``setpoint ARGS`` as the user can type it again: with the --home, --db, --blobs, --server and
        --project they gave on the command line (not those from the environment, which still apply)."""
        parts = ["setpoint", *self.given, *args]
        return " ".join(shlex.quote(p) for p in parts)

    def embedded(self, what: str) -> Client:
        """The embedded client, for commands that need the store itself; a clear error with --server."""
        client = self.client
        if not isinstance(client, Client):
            raise InputError(f"{what} works on a local store only; run it without --server / SETPOINT_SERVER")
        return client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


output_option = click.option(
    "--output",
    "-o",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="json prints stable, documented fields for scripts (and errors as JSON on stderr).",
    callback=_json_output,
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
@click.option(
    "--blobs",
    envvar="SETPOINT_BLOBS",
    default=None,
    metavar="URL",
    help="Where payloads, files and code bundles live: a folder, or an fsspec URL such as "
    "s3://bucket/prefix or file:///shared/path (default: blobs/ in the home; env SETPOINT_BLOBS).",
)
@click.option(
    "--server",
    envvar="SETPOINT_SERVER",
    default=None,
    metavar="URL",
    help="Talk to a `setpoint server` at URL (http://host:port) instead of a local store (env SETPOINT_SERVER).",
)
@click.option(
    "--token",
    envvar="SETPOINT_TOKEN",
    default=None,
    metavar="TOKEN",
    help="Bearer token for --server, from `setpoint token create` (env SETPOINT_TOKEN; never printed).",
)
@click.option(
    "--project",
    "global_project",
    envvar="SETPOINT_PROJECT",
    default=None,
    metavar="NAME",
    help="The default project of every command (env SETPOINT_PROJECT; with --server and no project, the "
    "token's own project).",
)
@click.version_option(package_name="setpoint")
@click.pass_context
def cli(
    ctx: click.Context,
    home: str | None,
    db: str | None,
    blobs: str | None,
    server: str | None,
    token: str | None,
    global_project: str | None,
) -> None:
    """setpoint: declarative, level-triggered workflows for ML and data pipelines."""
    state = Ctx(home, db, blobs, server=server, token=token, project=global_project)
    given = {"home": home, "db": db, "blobs": blobs, "server": server, "global_project": global_project}
    for name, value in given.items():
        if value is not None and ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE:
            state.given += [f"--{name.removeprefix('global_')}", _without_password(value)]
    ctx.obj = state
    ctx.call_on_close(state.close)
