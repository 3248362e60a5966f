"""The execution page against a server running real workflows: live phases, errors, gates, actions, logs, lineage."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from .conftest import Console, shot

pytestmark = pytest.mark.timeout(120)


def open_execution(page: Page, console: Console, eid: str, node: str | None = None) -> None:
    extra = f"&node={node}" if node else ""
    page.goto(f"{console.url}/#/executions/{eid}?project=team{extra}")
    expect(page.locator("svg.dag[data-ready]")).to_be_visible()


def test_follow_a_running_execution_to_success(page: Page, console: Console) -> None:
    eid = console.launch("chain", x=2, seconds=3.0)
    open_execution(page, console, eid)
    phase = page.get_by_test_id("execution-phase")
    # the page sees the run while it happens, then its end, over the event stream (no reload)
    expect(page.locator('[data-node="step"][data-phase="RUNNING"]')).to_be_visible(timeout=30_000)
    expect(phase).to_have_text("RUNNING")
    shot(page, "execution-running")
    expect(phase).to_have_text("SUCCEEDED", timeout=60_000)
    expect(page.locator('[data-node="step-1"]')).to_have_attribute("data-phase", "SUCCEEDED")
    page.get_by_role("tab", name="Inputs & outputs").click()
    expect(page.get_by_label("outputs").first).to_contain_text("o0")
    shot(page, "execution")


def test_a_failure_shows_its_error_and_traceback(page: Page, console: Console) -> None:
    eid = console.launch("failing", x=7)
    assert console.wait(eid)["phase"] == "FAILED"
    open_execution(page, console, eid)
    expect(page.locator(".exec-head")).to_contain_text("TaskRaised")
    expect(page.locator(".exec-head")).to_contain_text("broken on purpose with x=8")
    timeline = page.get_by_role("img", name=re.compile("^Timeline of attempts"))
    expect(timeline.locator(".gantt-run")).to_have_count(2)  # one attempt of each node
    expect(timeline.locator(".gantt-run.node-failed")).to_have_count(1)
    page.locator('[data-node="broken"]').click()
    trace = page.locator("pre.traceback")
    expect(trace).to_contain_text("Traceback (most recent call last)")
    expect(trace).to_contain_text("ValueError: broken on purpose with x=8")
    shot(page, "failure")
    page.get_by_role("tab", name="Events").click()
    history = page.get_by_role("list", name="Event history")
    expect(history.get_by_role("listitem").filter(has_text="broken").filter(has_text="FAILED").first).to_be_visible()
    expect(history.get_by_role("listitem").first).to_contain_text("created from workflow 'failing'")


def test_approve_a_gate(page: Page, console: Console) -> None:
    eid = console.launch("gated", x=5)
    open_execution(page, console, eid)
    gate = page.locator('[data-node="ship_it"]')
    expect(gate).to_have_attribute("data-phase", "RUNNING", timeout=30_000)
    gate.click()
    shot(page, "gate")
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_test_id("execution-phase")).to_have_text("SUCCEEDED", timeout=60_000)
    assert console.execution(eid)["outputs"] == {"o0": 7}  # step(step(5)) once approved


def test_terminate_with_a_reason(page: Page, console: Console) -> None:
    eid = console.launch("talk", lines=50, seconds=60.0)
    open_execution(page, console, eid)
    expect(page.locator('[data-node="chatty"]')).to_have_attribute("data-phase", "RUNNING", timeout=30_000)
    page.get_by_role("button", name="Terminate…").click()
    page.get_by_label("Reason").fill("stopped from the browser test")
    page.get_by_role("button", name="Terminate", exact=True).click()
    expect(page.get_by_test_id("execution-phase")).to_have_text("ABORTED", timeout=60_000)
    expect(page.locator(".exec-head")).to_contain_text("stopped from the browser test")
    assert console.execution(eid)["abort_reason"] == "stopped from the browser test"


def test_relaunch_opens_the_new_execution(page: Page, console: Console) -> None:
    eid = console.launch("chain", x=4, seconds=0.0)
    console.wait(eid)
    open_execution(page, console, eid)
    page.get_by_role("button", name="Relaunch").click()
    expect(page).not_to_have_url(re.compile(f"/executions/{eid}"))
    new = page.url.split("/executions/")[1].split("?")[0]
    assert new != eid
    expect(page.locator(".exec-head")).to_contain_text(f"from {eid}")
    assert console.wait(new)["phase"] == "SUCCEEDED"
    assert console.execution(new)["source_id"] == eid


def test_logs_stream_while_the_task_runs(page: Page, console: Console) -> None:
    eid = console.launch("talk", lines=40, seconds=6.0)
    open_execution(page, console, eid, node="chatty")
    logs = page.locator(".log-lines")
    expect(logs).to_contain_text("chatty line 0", timeout=30_000)
    expect(logs.locator(".log-line.mark").first).to_have_text(f"── {eid}/chatty/1 stdout ──")
    # part of the log is on screen while the task is still writing the rest
    assert console.execution(eid)["phase"] == "RUNNING"
    expect(page.locator(".logs-bar .count")).to_contain_text("streaming")
    shot(page, "logs")
    expect(logs).to_contain_text("chatty line 39", timeout=60_000)
    page.get_by_label("Search").last.fill("line 17")
    expect(page.locator(".log-line")).to_have_count(1)
    expect(page.locator(".logs-bar .count")).to_contain_text("1 lines")
    href = page.get_by_role("link", name="Download").get_attribute("href")
    assert href is not None and href.endswith("/logs?node=chatty")


def test_lineage_leads_to_the_producing_execution(page: Page, console: Console) -> None:
    first = console.launch("chain", x=11, seconds=0.0)
    console.wait(first)
    second = console.launch("chain", x=11, seconds=0.0)
    console.wait(second)
    open_execution(page, console, second, node="cached_square")
    expect(page.locator('[data-node="cached_square"] .badge-hit')).to_be_visible()
    expect(page.get_by_role("button", name="cached_square: SUCCEEDED, cache hit")).to_be_visible()
    page.get_by_role("button", name="Show lineage").click()
    link = page.locator("[data-lineage-link]").filter(has_text=first).first
    expect(link).to_be_visible()
    link.click()
    expect(page).to_have_url(re.compile(f"/executions/{first}"))
    expect(page.locator(".exec-head")).to_contain_text(first)
    # and down again: the producing node's outputs were used by the step after it
    expect(page.locator("#panel-title")).to_contain_text("cached_square")
    page.get_by_role("button", name="Show lineage").click()
    used_by = page.get_by_role("list", name="Used by")
    expect(used_by.get_by_role("link", name=f"{first}/step", exact=True)).to_be_visible()


def test_a_map_is_one_node_that_expands_into_its_elements(page: Page, console: Console) -> None:
    eid = console.launch("mapped", n=300)
    console.wait(eid)
    open_execution(page, console, eid, node="cached_square-map")
    expect(page.locator("[data-node]")).to_have_count(3)  # numbers, the map, total
    expect(page.locator('[data-node="cached_square-map"]')).to_contain_text("300/300 done")
    page.get_by_role("button", name="Show elements").click()
    table = page.get_by_role("table", name="Elements of cached_square-map")
    expect(table.get_by_role("row").nth(1)).to_be_visible()
    rendered = table.locator(".map-body [role=row]").count()
    assert 0 < rendered < 100, f"a virtualised table renders only what is in view, got {rendered} rows"
    shot(page, "map")


def test_launch_form_built_from_the_interface(page: Page, console: Console) -> None:
    page.goto(f"{console.url}/#/launch/workflows/chain?project=team")
    x = page.get_by_label("x int")
    expect(x).to_have_value("1")  # the interface's default
    x.fill("not a number")
    page.get_by_role("button", name="Launch").click()
    expect(page.locator(".launch")).to_contain_text("expected a whole number")
    x.fill("6")
    page.get_by_label("seconds float").fill("0")
    shot(page, "launch")
    page.get_by_role("button", name="Launch").click()
    expect(page).to_have_url(re.compile(r"/executions/[a-z0-9]+"))
    eid = page.url.split("/executions/")[1].split("?")[0]
    assert console.execution(eid)["inputs"] == {"x": 6, "seconds": 0.0}
    expect(page.get_by_test_id("execution-phase")).to_have_text("SUCCEEDED", timeout=60_000)


def test_a_dynamic_node_opens_in_place(page: Page, console: Console) -> None:
    eid = console.launch("grows", n=3)
    assert console.wait(eid)["phase"] == "SUCCEEDED"
    open_execution(page, console, eid, node="fan")
    expect(page.locator('[data-node="fan"]')).to_contain_text("3/3 done")
    page.get_by_role("button", name="Open in graph").click()
    group = page.locator('[data-group="fan"]')
    expect(group).to_be_visible()
    inside = page.locator('svg.dag [data-node^="fan."]')
    expect(inside).to_have_count(3)
    expect(inside.first).to_have_attribute("data-phase", "SUCCEEDED")
    shot(page, "dynamic")
    page.get_by_role("button", name="Close in graph").click()
    expect(group).to_have_count(0)
    expect(page.locator("svg.dag [data-node]")).to_have_count(1)


def test_executions_list_filters_searches_and_pages(page: Page, console: Console) -> None:
    failed = console.launch("failing", x=40)
    console.wait(failed)
    made = [console.launch("talk", lines=1, seconds=0.0) for _ in range(51)]
    page.goto(f"{console.url}/#/executions?project=team")
    rows = page.locator("tr[data-execution]")
    expect(rows).to_have_count(50)  # one page
    expect(page.locator(f'[data-execution="{made[-1]}"]')).to_be_visible()  # newest first
    shot(page, "executions")
    page.get_by_role("button", name="Load more").click()
    expect(page.locator(f'[data-execution="{made[0]}"]')).to_be_visible()
    assert rows.count() > 51
    page.get_by_label("Phase").select_option("FAILED")
    expect(page).to_have_url(re.compile("phase=FAILED"))
    expect(page.locator(f'[data-execution="{failed}"]')).to_be_visible()
    expect(rows.locator(".phase").filter(has_not_text="FAILED")).to_have_count(0)
    page.get_by_label("Phase").select_option("")
    page.get_by_label("Search").fill(failed[2:9])
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-execution", failed)
    assert "search=" in page.url


def test_records_are_shown_as_a_table(page: Page, console: Console) -> None:
    eid = console.launch("tabular", n=4)
    assert console.wait(eid)["phase"] == "SUCCEEDED"
    open_execution(page, console, eid)
    page.get_by_role("tab", name="Inputs & outputs").click()
    table = page.get_by_label("outputs").get_by_role("table")
    expect(table.get_by_role("columnheader")).to_have_text(["i", "square"])
    expect(table.get_by_role("row")).to_have_count(5)
    expect(table.get_by_role("row").last.get_by_role("cell")).to_have_text(["3", "9"])


def test_a_signal_gate_takes_a_typed_value(page: Page, console: Console) -> None:
    eid = console.launch("asking", x=2)
    open_execution(page, console, eid)
    gate = page.locator('[data-node="factor"]')
    expect(gate).to_have_attribute("data-phase", "RUNNING", timeout=30_000)
    gate.click()
    field = page.get_by_label("Value for factor")
    expect(page.locator(".gate-actions")).to_contain_text("int")  # the gate's declared type
    field.fill("seven")
    page.get_by_role("button", name="Send signal").click()
    expect(page.locator(".gate-actions")).to_contain_text("expected a whole number")
    assert console.execution(eid)["phase"] == "RUNNING"
    field.fill("7")
    page.get_by_role("button", name="Send signal").click()
    expect(page.get_by_test_id("execution-phase")).to_have_text("SUCCEEDED", timeout=60_000)
    assert console.execution(eid)["outputs"] == {"o0": 14}


def test_a_branch_shows_the_case_it_took(page: Page, console: Console) -> None:
    eid = console.launch("decide", x=5)
    assert console.wait(eid)["phase"] == "SUCCEEDED"
    open_execution(page, console, eid)
    expect(page.locator('[data-node="big"]')).to_contain_text("took case 1")
    expect(page.locator('[data-node="broken"]')).to_have_attribute("data-phase", "SKIPPED")


def test_a_deck_is_shown_in_a_sandboxed_frame(page: Page, console: Console) -> None:
    eid = console.launch("reported", x=9)
    assert console.wait(eid)["phase"] == "SUCCEEDED"
    open_execution(page, console, eid, node="report")
    expect(page.locator("iframe.deck")).to_have_attribute("sandbox", "allow-scripts")
    expect(page.frame_locator("iframe.deck").get_by_text("Report for 9")).to_be_visible()
