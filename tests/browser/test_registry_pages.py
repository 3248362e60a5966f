"""The registry, schedules and cache pages, and recovering a failed execution after reading its plan."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from .conftest import Console, shot

pytestmark = pytest.mark.timeout(120)


def test_registry_shows_versions_and_interfaces(page: Page, console: Console) -> None:
    page.goto(f"{console.url}/#/registry/workflows?project=team")
    page.get_by_role("link", name="chain", exact=True).click()
    expect(page.get_by_role("heading", name=re.compile("^chain"))).to_be_visible()
    interface = page.get_by_role("table", name="Interface")
    expect(interface.get_by_role("row", name=re.compile("^x input"))).to_contain_text('"int"')
    expect(interface.get_by_role("row", name=re.compile("^seconds input"))).to_contain_text("1")
    expect(page.get_by_role("table", name="Versions").get_by_role("row")).to_have_count(2)
    page.get_by_role("link", name="Launch plans").click()
    expect(page.get_by_role("link", name="nightly_chain")).to_be_visible()
    page.get_by_role("link", name="Tasks").click()
    expect(page.get_by_role("link", name="tests.browser.wf_console.step")).to_be_visible()


def test_launch_plan_launch_form_keeps_fixed_inputs(page: Page, console: Console) -> None:
    page.goto(f"{console.url}/#/launch/launchplans/nightly_chain?project=team")
    expect(page.get_by_label("x int")).to_have_value("2")  # the plan's default
    expect(page.get_by_label("seconds float")).to_be_disabled()  # fixed by the plan
    page.get_by_role("button", name="Launch").click()
    expect(page).to_have_url(re.compile(r"/executions/[a-z0-9]+"))
    expect(page.get_by_test_id("execution-phase")).to_have_text("SUCCEEDED", timeout=60_000)


def test_a_schedule_is_switched_on_and_off(page: Page, console: Console) -> None:
    status = f"{console.api('team')}/launchplans/yearly_chain/schedule"
    page.goto(f"{console.url}/#/schedules?project=team")
    switch = page.get_by_role("switch", name="Activate yearly_chain")
    expect(switch).to_have_attribute("aria-checked", "false")
    row = page.get_by_role("row", name=re.compile("^yearly_chain"))
    expect(row).to_contain_text("0 0 1 1 *")
    switch.click()
    expect(switch).to_have_attribute("aria-checked", "true")
    assert httpx.get(status).json()["active_version"] is not None
    expect(row).to_contain_text("-01-01")  # its next tick, on 1 January
    shot(page, "schedules")
    switch.click()
    expect(switch).to_have_attribute("aria-checked", "false")
    assert httpx.get(status).json()["active_version"] is None


def test_the_cache_catalog_evicts_an_entry(page: Page, console: Console) -> None:
    eid = console.launch("chain", x=123, seconds=0.0)
    console.wait(eid)
    page.goto(f"{console.url}/#/cache?project=team")
    row = page.get_by_role("row").filter(has_text=f"{eid}/cached_square")
    expect(row).to_have_count(1)
    shot(page, "cache")
    row.get_by_role("button", name=re.compile("^Evict")).click()
    expect(row).to_have_count(0)
    entries = httpx.get(f"{console.api('team')}/cache").json()["entries"]
    assert all(e["source_execution"] != eid for e in entries)


def test_recover_shows_the_plan_first(page: Page, console: Console) -> None:
    eid = console.launch("failing", x=2)
    assert console.wait(eid)["phase"] == "FAILED"
    page.goto(f"{console.url}/#/executions/{eid}?project=team")
    page.get_by_role("button", name="Recover…").click()
    plan = page.get_by_role("dialog", name="Recovery plan")
    expect(plan.get_by_role("row", name=re.compile("^step"))).to_contain_text("reuse")
    expect(plan.get_by_role("row", name=re.compile("^broken"))).to_contain_text("run")
    plan.get_by_role("button", name="Recover", exact=True).click()
    expect(page).not_to_have_url(re.compile(f"/executions/{eid}"))
    expect(page.locator(".exec-head")).to_contain_text(f"from {eid}")
    new = page.url.split("/executions/")[1].split("?")[0]
    got = console.wait(new)
    assert got["mode"] == "recover" and got["source_id"] == eid
    # the reused node says where its outputs came from
    expect(page.locator('[data-node="step"] .badge-recovered')).to_be_visible()
    expect(page.get_by_role("button", name=f"step: RECOVERED, recovered from {eid}")).to_be_visible()
