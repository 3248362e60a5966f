"""axe-core on the console's main pages: no serious or critical accessibility violation.

axe is vendored (``vendor/axe.min.js``, axe-core 4.14.1, MPL-2.0) so the check runs on a fresh
clone without npm. The page's CSP forbids injected scripts, so these pages bypass it; the other
browser tests run with the CSP on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from .conftest import Console, NewPage, shot

pytestmark = pytest.mark.timeout(120)

AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text(encoding="utf-8")
BLOCKING = {"serious", "critical"}


def violations(page: Page) -> list[dict[str, Any]]:
    page.add_script_tag(content=AXE)
    found: list[dict[str, Any]] = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"][:3]]}
        for v in found
        if v["impact"] in BLOCKING
    ]


@pytest.fixture
def a11y_page(new_page: NewPage) -> Page:
    return new_page(bypass_csp=True)


def test_main_pages_have_no_serious_violations(a11y_page: Page, console: Console) -> None:
    page = a11y_page
    ok = console.launch("chain", x=8, seconds=0.0)
    bad = console.launch("failing", x=1)
    console.wait(ok)
    console.wait(bad)
    pages = {
        "executions": ("#/executions?project=team", "Executions"),
        "execution": (f"#/executions/{ok}?project=team&node=step", None),
        "failed execution": (f"#/executions/{bad}?project=team&node=broken", None),
        "registry": ("#/registry/workflows?project=team", "Registry"),
        "workflow": ("#/registry/workflows/chain?project=team", "Registry"),
        "launch": ("#/launch/workflows/chain?project=team", "Launch chain"),
        "schedules": ("#/schedules?project=team", "Schedules"),
        "cache": ("#/cache?project=team", "Cache catalog"),
    }
    found: dict[str, list[dict[str, Any]]] = {}
    for name, (path, heading) in pages.items():
        page.goto(f"{console.url}/{path}")
        if heading:
            expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        else:
            expect(page.locator("svg.dag[data-ready]")).to_be_visible()
            expect(page.locator(".panel")).to_be_visible()
        if name == "registry":
            shot(page, "registry")
        problems = violations(page)
        if problems:
            found[name] = problems
    assert found == {}, found


def test_sign_in_page_has_no_serious_violations(a11y_page: Page, secured: Console) -> None:
    a11y_page.goto(f"{secured.url}/")
    expect(a11y_page.get_by_label("Token")).to_be_visible()
    assert violations(a11y_page) == []
