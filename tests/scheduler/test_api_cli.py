"""Activation and schedules over the REST API (in process, with tokens) and the CLI (a real subprocess)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from setpoint.client.embedded import Client
from setpoint.server.app import create_app
from setpoint.server.tokens import create_token
from tests.e2e.cli_util import setpoint, setpoint_json
from tests.e2e.conftest import fast_settings

pytestmark = pytest.mark.timeout(120)

WF = "tests/scheduler/wf_scheduled.py"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    c = Client(fast_settings(tmp_path / "home"))
    c.register([WF], project="team", version="v1")
    c.register([WF], project="team", version="v2")
    yield c
    c.close()


def test_activation_over_the_api(client: Client) -> None:
    editor = {"Authorization": f"Bearer {create_token(client.store, 'team', 'editor')}"}
    viewer = {"Authorization": f"Bearer {create_token(client.store, 'team', 'viewer')}"}
    base = "/api/v1/projects/team"
    with TestClient(create_app(client, auth=True)) as http:
        got = http.get(f"{base}/launchplans/nightly/schedule", headers=viewer).json()
        assert (got["active_version"], got["latest_version"], got["next_ticks"]) == (None, "v2", [])
        assert got["schedule"] == {
            "kind": "cron",
            "cron": "0 3 * * *",
            "tz": "Europe/Berlin",
            "catch_up": "latest",
            "kickoff_time_input_arg": "when",
        }
        assert http.post(f"{base}/launchplans/nightly/activate", json={}, headers=viewer).status_code == 403
        made = http.post(f"{base}/launchplans/nightly/activate", json={"version": "v1"}, headers=editor)
        assert made.status_code == 200, made.text
        assert made.json()["active_version"] == "v1"
        ticks = made.json()["next_ticks"]
        assert len(ticks) == 5 and all(t.endswith(("T02:00:00+00:00", "T01:00:00+00:00")) for t in ticks)
        # Activating the latest (v2) deactivates v1: one active version per name.
        assert (
            http.post(f"{base}/launchplans/nightly/activate", json={}, headers=editor).json()["active_version"] == "v2"
        )
        listed = http.get(f"{base}/schedules", headers=viewer).json()["launchplans"]
        assert [(x["name"], x["active_version"]) for x in listed] == [("nightly", "v2")]
        missing = http.post(f"{base}/launchplans/nightly/activate", json={"version": "v9"}, headers=editor)
        assert missing.status_code == 404
        assert "launch plan 'nightly' version 'v9' is not registered" in missing.json()["error"]["message"]
        assert http.post(f"{base}/launchplans/nope/deactivate", headers=editor).status_code == 404
        off = http.post(f"{base}/launchplans/nightly/deactivate", headers=editor).json()
        assert off["active_version"] is None
        assert http.get(f"{base}/schedules", headers=viewer).json() == {"launchplans": []}


def test_registering_a_schedule_over_the_api_checks_it(client: Client) -> None:
    base = "/api/v1/projects/team/launchplans"
    body = {"name": "hourly", "workflow": "report", "default_inputs": {"label": "x"}}
    with TestClient(create_app(client, auth=False)) as http:
        bad = http.post(base, json={**body, "schedule": {"kind": "cron", "cron": "0 25 * * *", "tz": "UTC"}})
        assert bad.status_code == 422
        assert bad.json()["error"]["message"].startswith("launch plan 'hourly': invalid cron expression '0 25 * * *'")
        unfed = http.post(base, json={**body, "schedule": {"kind": "rate", "seconds": 60}})
        assert unfed.status_code == 422
        assert "give 'when' a default or fixed input" in unfed.json()["error"]["message"]
        schedule = {"kind": "rate", "seconds": 60, "kickoff_time_input_arg": "when"}
        ok = http.post(base, json={**body, "schedule": schedule})
        assert ok.status_code == 201, ok.text
        assert ok.json()["entity"]["body"]["schedule"] == {**schedule, "catch_up": "latest"}
        plain = http.post(base, json=body | {"fixed_inputs": {"when": "2024-01-01T00:00:00+00:00"}})
        assert plain.json()["entity"]["version"] != ok.json()["entity"]["version"]


def test_launchplan_commands(tmp_path: Path) -> None:
    home = tmp_path / "home"
    setpoint(home, "register", WF, "--project", "team", "--version", "v1", check=True)
    setpoint(home, "register", WF, "--project", "team", "--version", "v2", check=True)
    listed = setpoint_json(home, "launchplan", "ls", "--project", "team")["launchplans"]
    assert [(x["name"], x["active_version"]) for x in listed] == [("every_second", None), ("nightly", None)]
    on = setpoint_json(home, "launchplan", "activate", "nightly", "--version", "v1", "--project", "team")
    assert on["active_version"] == "v1" and len(on["next_ticks"]) == 5
    again = setpoint_json(home, "launchplan", "activate", "nightly", "--project", "team")
    assert again["active_version"] == "v2"
    shown = setpoint(home, "launchplan", "get", "nightly", "--project", "team", check=True).stdout
    assert "active version  v2" in shown and "cron '0 3 * * *' Europe/Berlin (catch_up latest" in shown
    table = setpoint(home, "launchplan", "ls", "--project", "team", check=True).stdout
    assert "every 0:00:01" in table and "v2" in table
    off = setpoint_json(home, "launchplan", "deactivate", "nightly", "--project", "team")
    assert off["active_version"] is None
    bad = setpoint(home, "launchplan", "activate", "nightly", "--version", "v9", "--project", "team")
    assert bad.returncode == 3 and "launch plan 'nightly' version 'v9' is not registered" in bad.stderr


def test_a_bad_schedule_is_refused_at_registration_naming_the_launch_plan(tmp_path: Path) -> None:
    module = tmp_path / "bad_schedule.py"
    module.write_text(
        "from setpoint import Cron, LaunchPlan, workflow\n"
        "@workflow\n"
        "def wf() -> None:\n"
        "    return None\n"
        "daily = LaunchPlan.get_or_create(wf, 'daily', schedule=Cron('0 3 * * *', tz='Europe/Berln'))\n"
    )
    proc = setpoint(tmp_path / "home", "register", str(module), "--project", "team")
    assert proc.returncode == 2
    assert "launch plan 'daily': unknown time zone 'Europe/Berln'" in proc.stderr
