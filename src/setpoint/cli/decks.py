"""Commands for the reports tasks produce: `setpoint deck`."""

from __future__ import annotations

import json
import webbrowser

import click

from setpoint.cli.app import Ctx, cli, output_option
from setpoint.errors import InputError
from setpoint.service.inspect import deck_path


@cli.command()
@click.argument("execution")
@click.argument("node")
@click.option("--attempt", type=int, default=None, help="This attempt's deck (default: the latest with one).")
@click.option("--open", "open_", is_flag=True, help="Open the deck in a web browser as well.")
@output_option
@click.pass_obj
def deck(state: Ctx, execution: str, node: str, attempt: int | None, open_: bool, output: str) -> None:
    """Print the path of NODE's deck page (tasks with enable_deck=True render one per attempt)."""
    if state.remote:
        raise InputError(
            "setpoint deck reads the attempt folders on this machine; against a server, open "
            "/api/v1/executions/EXECUTION/nodes/NODE/deck in the console instead"
        )
    views = state.client.nodes(execution, children=True)
    path = deck_path(views, state.settings.attempts_root, execution, node, attempt)
    if output == "json":
        click.echo(json.dumps({"execution_id": execution, "node_id": node, "path": str(path)}))
    else:
        click.echo(str(path))
    if open_:
        webbrowser.open(path.as_uri())
