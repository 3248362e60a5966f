"""Commands for launch plan schedules: `setpoint launchplan ls|get|activate|deactivate` and `setpoint scheduler`."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.table import Table

from setpoint.cli.app import Ctx, cli, console, err_console, output_option

project_option = click.option("--project", default=None, help="The project of the launch plan.")


def _show(info: dict[str, Any]) -> None:
    active = info["active_version"]
    console.print(f"[bold]{info['name']}[/] (project {info['project']})", highlight=False)
    console.print(f"  latest version  {info['latest_version']}", highlight=False)
    console.print(f"  active version  {active or '[dim]none (inactive)[/]'}", highlight=False)
    sched = info["schedule"]
    if sched is None:
        console.print("  schedule        [dim]none[/]", highlight=False)
    else:
        kick = sched.get("kickoff_time_input_arg")
        extra = f", tick time into input '{kick}'" if kick else ""
        console.print(
            f"  schedule        {info['schedule_text']} (catch_up {sched['catch_up']}{extra})", highlight=False
        )
    if info["next_ticks"]:
        console.print(f"  next ticks      {', '.join(info['next_ticks'])}", highlight=False)
    for t in info["recent_ticks"]:
        console.print(f"  fired           {t['tick']} -> {t['execution_id']} (version {t['version']})", highlight=False)


@cli.group()
def launchplan() -> None:
    """Registered launch plans: schedules, and which version is active."""


@launchplan.command("ls")
@project_option
@output_option
@click.pass_obj
def launchplan_ls(state: Ctx, project: str | None, output: str) -> None:
    """Every launch plan of the project with its schedule, active version and next tick."""
    infos = state.client.launchplan_statuses(project=project)
    if output == "json":
        click.echo(json.dumps({"launchplans": infos}))
        return
    table = Table(box=None, header_style="bold")
    for col in ("NAME", "LATEST", "ACTIVE", "SCHEDULE", "NEXT TICK"):
        table.add_column(col)
    for i in infos:
        table.add_row(
            i["name"],
            i["latest_version"],
            i["active_version"] or "-",
            i["schedule_text"] or "-",
            i["next_ticks"][0] if i["next_ticks"] else "-",
        )
    console.print(table)



def _answer(info: dict[str, Any], output: str) -> None:
    """A launch plan's status as the user asked for it: JSON, or the table and its ticks."""
    if output == "json":
        click.echo(json.dumps(info))
    else:
        _show(info)


@launchplan.command("get")
@click.argument("name")
@project_option
@output_option
@click.pass_obj
def launchplan_get(state: Ctx, name: str, project: str | None, output: str) -> None:
    """A launch plan's schedule, active version, next ticks and the ticks fired most recently."""
    info = state.client.launchplan_status(name, project=project)
    _answer(info, output)


@launchplan.command("activate")
@click.argument("name")
@click.option("--version", "version", default=None, help="The version to activate (default: the latest).")
@project_option
@output_option
@click.pass_obj
def launchplan_activate(state: Ctx, name: str, version: str | None, project: str | None, output: str) -> None:
    """Make one version of NAME the active one (any other version of NAME stops being active)."""
    info = state.client.activate_launchplan(name, version, project=project)
    _answer(info, output)


@launchplan.command("deactivate")
@click.argument("name")
@project_option
@output_option
@click.pass_obj
def launchplan_deactivate(state: Ctx, name: str, project: str | None, output: str) -> None:
    """Stop NAME's schedule: no version stays active (executions already created are not touched)."""
    info = state.client.deactivate_launchplan(name, project=project)
    _answer(info, output)


@cli.command()
@click.option(
    "--interval", type=click.FloatRange(min=0.05), default=1.0, show_default=True, help="Seconds between passes."
)
@click.option(
    "--grace",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    help="How late a tick may be seen and still fire under catch_up='none'.",
)
@click.pass_obj
def scheduler(state: Ctx, interval: float, grace: float) -> None:
    """Run the scheduler alone in the foreground: it starts an execution for every due tick of every
    active launch plan (`setpoint server` runs one too; any number may run, a tick still fires once)."""
    from setpoint.service.scheduler import Scheduler

    client = state.embedded("setpoint scheduler")
    s = Scheduler(client.store, interval=interval, grace=grace)
    err_console.print(f"scheduler running on {client.settings.home}; Ctrl-C stops it")
    try:
        s.run_forever()
    except KeyboardInterrupt:
        err_console.print("stopping")
