"""Signing in on `setpoint server` with tokens: what a viewer and an editor can do, and projects kept apart."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from .conftest import Console, NewPage, shot

pytestmark = pytest.mark.timeout(120)


def sign_in(page: Page, console: Console, token: str) -> None:
    page.goto(f"{console.url}/")
    page.get_by_label("Token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Executions")).to_be_visible()


def api_write(page: Page, path: str, csrf: bool) -> int:
    """A POST from the page with its session cookie, with or without the CSRF header."""
    status: int = page.evaluate(
        """async ([path, csrf]) => {
            const s = await (await fetch('/console/session')).json();
            const headers = {'Content-Type': 'application/json'};
            if (csrf) headers['X-CSRF-Token'] = s.csrf;
            const r = await fetch(path, {method: 'POST', headers, body: '{}'});
            return r.status;
        }""",
        [path, csrf],
    )
    return status


def test_a_bad_token_is_refused_and_the_cookie_never_holds_the_token(page: Page, secured: Console) -> None:
    page.goto(f"{secured.url}/")
    expect(page.get_by_label("Token")).to_be_visible()
    shot(page, "sign-in")
    page.get_by_label("Token").fill("not-a-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not valid")
    token = secured.token("team", "viewer")
    sign_in(page, secured, token)
    cookies = {c["name"]: c for c in page.context.cookies()}
    session = cookies["setpoint_session"]
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    assert token not in session["value"]
    assert token not in page.url
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Token")).to_be_visible()


def test_a_viewer_sees_but_cannot_write(page: Page, secured: Console) -> None:
    eid = secured.launch("chain", x=1, seconds=0.0)
    secured.wait(eid)
    sign_in(page, secured, secured.token("team", "viewer"))
    expect(page.locator(f'[data-execution="{eid}"]')).to_be_visible()
    expect(page.locator(".role")).to_have_text("viewer")
    page.goto(f"{secured.url}/#/executions/{eid}?node=step")
    expect(page.get_by_test_id("execution-phase")).to_have_text("SUCCEEDED")
    expect(page.locator(".panel")).to_contain_text("step")
    for name in ("Relaunch", "Recover…", "Terminate…"):
        expect(page.get_by_role("button", name=name)).to_have_count(0)
    page.goto(f"{secured.url}/#/registry/workflows")
    expect(page.get_by_role("link", name="chain", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Launch", exact=True)).to_have_count(0)
    page.goto(f"{secured.url}/#/cache")
    expect(page.get_by_role("heading", name="Cache catalog")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("^Evict"))).to_have_count(0)
    # the server, not only the page, refuses: a viewer's cookie cannot relaunch, CSRF header or not
    relaunch = f"/api/v1/projects/team/executions/{eid}/relaunch"
    assert api_write(page, relaunch, csrf=True) == 403
    assert api_write(page, relaunch, csrf=False) == 403


def test_an_editor_can_act_and_writes_carry_the_csrf_token(page: Page, secured: Console) -> None:
    eid = secured.launch("chain", x=3, seconds=0.0)
    secured.wait(eid)
    sign_in(page, secured, secured.token("team", "editor"))
    relaunch = f"/api/v1/projects/team/executions/{eid}/relaunch"
    assert api_write(page, relaunch, csrf=False) == 403  # a cookie alone does not write
    page.goto(f"{secured.url}/#/executions/{eid}")
    page.get_by_role("button", name="Relaunch").click()
    expect(page).not_to_have_url(re.compile(f"/executions/{eid}"))
    expect(page.locator(".exec-head")).to_contain_text(f"from {eid}")
    expect(page.get_by_test_id("execution-phase")).to_have_text("SUCCEEDED", timeout=60_000)
    page.goto(f"{secured.url}/#/registry/workflows")
    expect(page.get_by_role("link", name="Launch", exact=True).first).to_be_visible()


def test_a_project_token_sees_nothing_of_another_project(new_page: NewPage, secured: Console) -> None:
    theirs = secured.launch("chain", project="team", x=5, seconds=0.0)
    ours = secured.launch("chain", project="other", x=5, seconds=0.0)
    secured.wait(theirs, "team")
    secured.wait(ours, "other")
    page = new_page()
    sign_in(page, secured, secured.token("other", "editor"))
    expect(page.locator(f'[data-execution="{ours}"]')).to_be_visible()
    expect(page.locator(f'[data-execution="{theirs}"]')).to_have_count(0)
    expect(page.locator(".project-name")).to_have_text("project other")
    expect(page.locator("select")).to_have_count(1)  # only the phase filter: no project picker
    # asking for the other project's execution by URL finds nothing
    page.goto(f"{secured.url}/#/executions/{theirs}?project=team")
    expect(page.get_by_role("alert")).to_contain_text("not found")
    got: dict[str, Any] = page.evaluate("async () => (await fetch('/api/v1/projects')).json()")
    assert got == {"projects": [{"name": "other"}]}
    page.goto(f"{secured.url}/#/cache")
    expect(page.get_by_role("heading", name="Cache catalog")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile(theirs))).to_have_count(0)


def test_an_ended_session_returns_to_the_sign_in_page(page: Page, secured: Console) -> None:
    sign_in(page, secured, secured.token("team", "viewer"))
    page.context.clear_cookies()  # as when the session expires
    # the next request the page makes (its own refresh of the list, or this navigation) is refused:
    # either way the console shows the sign-in page (a click could race the refresh that removes the link)
    page.evaluate("location.hash = '#/registry?project=team'")
    expect(page.get_by_label("Token")).to_be_visible()
