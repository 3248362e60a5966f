"""Commands for the reports tasks produce: `setpoint deck`."""

from __future__ import annotations

import json
import tempfile
import webbrowser
from pathlib import Path

import click

from setpoint.cli.app import Ctx, cli, output_option
from setpoint.service.inspect import deck_path


@cli.command()
@click.argument("execution")
@click.argument("node")
@click.option("--attempt", type=int, default=None, help="This attempt's deck (default: the latest with one).")
@click.option("--open", "open_", is_flag=True, help="Open the deck in a web browser as well.")
@output_option
@click.pass_obj
def deck(state: Ctx, execution: str, node: str, attempt: int | None, open_: bool, output: str) -> None:
    """Print the path of NODE's deck page (tasks with enable_deck=True render one per attempt).

    Against a server (--server) the page is fetched and saved to a new local file, whose path is
    printed.
    """
    if state.remote:
        from setpoint.client.remote import RemoteClient

        client = state.client
        assert isinstance(client, RemoteClient)  # state.remote: the contract's remote transport
        page = client.deck(execution, node, attempt)
        path = Path(tempfile.mkdtemp(prefix="setpoint-deck-")) / f"{execution}-{node}.html"
        path.write_text(page)
    else:
        views = state.client.nodes(execution, children=True)
        path = deck_path(views, state.settings.attempts_root, execution, node, attempt)
    if output == "json":
        click.echo(json.dumps({"execution_id": execution, "node_id": node, "path": str(path)}))
    else:
        click.echo(str(path))
    if open_:
        webbrowser.open(path.as_uri())
