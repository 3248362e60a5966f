"""Commands for a shared setpoint: register, launch, token create, server."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import click

from setpoint.cli.app import Ctx, cli, console, ensure_port_free, err_console, output_option
from setpoint.cli.progress import follow_to_the_end
from setpoint.client.embedded import Client
from setpoint.errors import InputError


@cli.command()
@click.argument("targets", nargs=-1, required=True)
@click.option("--project", default=None, help="The project to register into (created if new).")
@click.option(
    "--version", "version", default=None, help="Version of everything registered (default: a content digest)."
)
@output_option
@click.pass_obj
def register(state: Ctx, targets: tuple[str, ...], project: str | None, version: str | None, output: str) -> None:
    """Register every module-level @task, @workflow and LaunchPlan of TARGETS (files, directories or packages).

    Registered entities are immutable: registering identical content again changes nothing; the same
    name and version with other content is refused with what differs.
    """
    client = state.client
    used, done = client.register(list(targets), project=project, version=version)
    if output == "json":
        rows = [
            {"kind": r.entity.kind, "name": r.entity.name, "version": r.entity.version, "created": r.created}
            for r in done
        ]
        click.echo(json.dumps({"project": done[0].entity.project, "version": used, "entities": rows}))
        return
    for r in done:
        what = "registered" if r.created else "unchanged "
        console.print(f"{what} {r.entity.kind:<10} {r.entity.name} [dim]{r.entity.version}[/]", highlight=False)


@cli.command()
@click.argument("name")
@click.option("--version", "version", default=None, help="Version to launch (default: the latest registered).")
@click.option("--launchplan", "-l", is_flag=True, help="NAME is a launch plan (default: a workflow).")
@click.option("--project", default=None, help="The project NAME is registered in.")
@click.option("--inputs", "inputs_json", default=None, metavar="JSON|@FILE", help="A JSON object of input values.")
@click.option(
    "--follow", "-f", is_flag=True, help="Show its progress until it ends, as `run` does, and exit by its phase."
)
@output_option
@click.pass_obj
def launch(
    state: Ctx,
    name: str,
    version: str | None,
    launchplan: bool,
    project: str | None,
    inputs_json: str | None,
    follow: bool,
    output: str,
) -> None:
    """Create an execution of a registered workflow or launch plan; a controller (or server) runs it.

    With --follow it is run here (or by the server) and followed to its end, as `run` does.
    """
    inputs: Any = {}
    if inputs_json:
        text = Path(inputs_json[1:]).read_text() if inputs_json.startswith("@") else inputs_json
        try:
            inputs = json.loads(text)
        except json.JSONDecodeError as e:
            raise InputError(f"--inputs is not valid JSON: {e}") from None
        if not isinstance(inputs, dict):
            raise InputError("--inputs must be a JSON object of input names to values")
    client = state.client
    if follow and isinstance(client, Client):
        client.start_controller(own_only=True)  # like run: only what it can finish
    eid = client.create_registered("launchplan" if launchplan else "workflow", name, version, inputs, project=project)
    if follow:
        follow_to_the_end(client, eid, state, output)
        return
    if output == "json":
        click.echo(json.dumps({"id": eid}))
    else:
        click.echo(eid)


@cli.group()
def token() -> None:
    """API tokens for `setpoint server`."""


@token.command("create")
@click.option("--project", required=True, help="The project the token is for.")
@click.option("--role", type=click.Choice(["viewer", "editor", "admin"]), default="viewer", show_default=True)
@click.pass_obj
def token_create(state: Ctx, project: str, role: str) -> None:
    """Create a token and print it (only this once: the store keeps its hash)."""
    client = state.client
    if isinstance(client, Client):
        from setpoint.server.tokens import create_token

        click.echo(create_token(client.store, project, role))
    else:
        from setpoint.client.remote import RemoteClient

        assert isinstance(client, RemoteClient)  # the contract's two transports: embedded or remote
        click.echo(client.create_token(role, project))
    err_console.print(f"[dim]a {role} token for project {project!r}; keep it secret, it is not shown again[/]")


def _graceful_server_class() -> Any:
    import uvicorn

    class GracefulServer(uvicorn.Server):
        """Stops on SIGINT/SIGTERM like uvicorn, then returns instead of re-raising the signal.

        uvicorn re-raises a caught signal once it has shut down, which kills the process (SIGTERM)
        or surfaces as KeyboardInterrupt (SIGINT) before the scheduler and controller are stopped.
        A stop signal is the normal way to end `setpoint server`: it exits 0 after cleaning up.
        """

        def handle_exit(self, sig: int, frame: Any) -> None:
            if self.should_exit and sig == signal.SIGINT:
                self.force_exit = True  # a second Ctrl-C: stop waiting for open connections
            else:
                self.should_exit = True

    return GracefulServer


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8800, show_default=True)
@click.option("--no-auth", is_flag=True, help="Serve without tokens (single user, trusted network only).")
@click.option(
    "--no-controller", is_flag=True, help="Serve the API only; a separate `setpoint controller` runs executions."
)
@click.option(
    "--no-scheduler", is_flag=True, help="Do not fire launch plan schedules here; a `setpoint scheduler` does."
)
@click.pass_obj
def server(state: Ctx, host: str, port: int, no_auth: bool, no_controller: bool, no_scheduler: bool) -> None:
    """Run the REST API (OpenAPI at /openapi.json) and the web console (at /), a controller and the
    scheduler in one process."""
    _serve(
        state, "setpoint server", host, port, auth=not no_auth, controller=not no_controller, schedules=not no_scheduler
    )


@cli.command()
@click.option("--port", type=int, default=8700, show_default=True)
@click.option("--no-controller", is_flag=True, help="Serve only; a separate `setpoint controller` runs executions.")
@click.pass_obj
def ui(state: Ctx, port: int, no_controller: bool) -> None:
    """Serve the web console for the local home on 127.0.0.1, without tokens, and print its URL.

    It runs a controller and the scheduler too (unless --no-controller), so executions launched
    or approved in the browser proceed. It listens on the loopback address only and refuses
    requests addressed to any other host or sent from another origin. Stop it with Ctrl-C.
    """
    host = "127.0.0.1"
    _serve(
        state,
        "setpoint ui",
        host,
        port,
        auth=False,
        controller=not no_controller,
        schedules=not no_controller,
        local_only=True,
        url=f"http://{host}:{port}/",
    )


def _serve(
    state: Ctx,
    what: str,
    host: str,
    port: int,
    *,
    auth: bool,
    controller: bool,
    schedules: bool,
    local_only: bool = False,
    url: str | None = None,
) -> None:
    """Serve the API and the console with uvicorn until a stop signal; then stop the scheduler."""
    try:
        import uvicorn

        from setpoint.server.app import create_app
    except ImportError as e:
        raise InputError(f"the server needs its extra: pip install 'setpoint[server]' ({e})") from None
    ensure_port_free(host, port, what)  # one clear line, before the store is opened or a banner printed
    client = state.embedded(what)
    ctl = client.start_controller() if controller else None
    scheduler = None
    if schedules:
        from setpoint.service.scheduler import Scheduler

        scheduler = Scheduler(client.store, on_created=ctl.submit if ctl is not None else None).start()
    app = create_app(client, auth=auth, local_only=local_only)
    err_console.print(
        f"{what} on http://{host}:{port} (home {client.settings.home}; "
        f"{'bearer tokens' if auth else 'no auth'}{'; controller running' if controller else ''}"
        f"{'; scheduler running' if schedules else ''})"
    )
    if url is not None:
        click.echo(url)
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", access_log=False, timeout_graceful_shutdown=10
    )
    srv = _graceful_server_class()(config)
    # Open event and log streams end as soon as shutdown starts, so they never hold it up.
    app.state.api.stopping = lambda: bool(srv.should_exit)
    try:
        srv.run()
    finally:
        if scheduler is not None:
            scheduler.stop()
