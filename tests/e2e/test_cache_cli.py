"""Catalog, lineage and recovery through the CLI, including edits to the code on disk."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.cli_util import setpoint, setpoint_json

pytestmark = pytest.mark.timeout(180)

PROJECT = """
from setpoint import task, workflow

@task(cache=True, cache_version="1", cache_code_in_key={code_in_key})
def scale(x: {in_type}) -> {out_type}:
    return {body}

@workflow
def wf(x: {in_type} = 2) -> {out_type}:
    return scale(x=x)
"""


def write(proj: Path, *, body: str = "x * 2", in_type: str = "int", out_type: str = "int",
          code_in_key: bool = True) -> None:
    proj.mkdir(exist_ok=True)
    (proj / "cached.py").write_text(textwrap.dedent(
        PROJECT.format(body=body, in_type=in_type, out_type=out_type, code_in_key=code_in_key)))


def run(home: Path, proj: Path, *args: str) -> dict[str, Any]:
    return setpoint_json(home, "run", str(proj / "cached.py") + ":wf", *args)


def status(out: dict[str, Any]) -> str:
    value: str = out["nodes"][0]["cache_status"]
    return value


@pytest.mark.remote
def test_editing_the_task_code_invalidates_the_cache_and_explain_says_so(home: Path, tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    write(proj)
    assert status(run(home, proj)) == "PUT"
    assert status(run(home, proj)) == "HIT"
    write(proj, body="x * 3")
    edited = run(home, proj)
    assert status(edited) == "PUT"
    assert edited["execution"]["outputs"] == {"o0": 6}
    eid = edited["execution"]["id"]
    explained = setpoint_json(home, "cache", "explain", eid, "scale")
    assert explained["differences"] == ["the task's code"]
    text = setpoint(home, "cache", "explain", eid, "scale", check=True).stdout
    assert "the task's code" in text


@pytest.mark.remote
def test_version_only_keys_ignore_code_edits(home: Path, tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    write(proj, code_in_key=False)
    run(home, proj)
    write(proj, body="x * 3", code_in_key=False)
    assert status(run(home, proj)) == "HIT"  # Flyte's behaviour, chosen explicitly


@pytest.mark.remote
@pytest.mark.parametrize(
    ("change", "kw"),
    [("input type", {"in_type": "float", "body": "int(x * 2)"}), ("output type", {"out_type": "float"})],
)
def test_changing_an_interface_type_misses(home: Path, tmp_path: Path, change: str, kw: dict[str, str]) -> None:
    proj = tmp_path / "proj"
    write(proj, code_in_key=False, body="int(x * 2)")
    run(home, proj)
    write(proj, code_in_key=False, **{"body": "int(x * 2)", **kw})
    out = run(home, proj)
    assert status(out) == "PUT", change
    diffs = setpoint_json(home, "cache", "explain", out["execution"]["id"], "scale")["differences"]
    assert "the interface (an input or output type changed)" in diffs


def test_cache_ls_evict_and_project_scoping(tmp_path: Path) -> None:
    home, proj = tmp_path / "home", tmp_path / "proj"
    write(proj)
    first = run(home, proj)
    run(home, proj, "--project", "other")
    entries = setpoint_json(home, "cache", "ls")["entries"]
    assert sorted(e["project"] for e in entries) == ["default", "other"]
    key = next(e["key"] for e in entries if e["project"] == "default")
    out = setpoint(home, "cache", "evict", "--key", key[:16], check=True)
    assert "evicted 1 entry" in out.stdout
    assert [e["project"] for e in setpoint_json(home, "cache", "ls")["entries"]] == ["other"]
    assert status(run(home, proj)) == "PUT"
    assert first["execution"]["id"]


@pytest.mark.remote
def test_lineage_and_recover_commands(home: Path, tmp_path: Path) -> None:
    counters, marker = tmp_path / "counts", tmp_path / "fail"
    counters.mkdir()
    marker.write_text("x")
    failed = setpoint(home, "run", "tests/e2e/wf_cache.py:diamond", "--x", "1", "--counters", str(counters),
                      "--fail_marker", str(marker), "-o", "json")
    assert failed.returncode == 1
    import json

    eid = json.loads(failed.stdout)["execution"]["id"]
    plan = setpoint_json(home, "recover", eid, "--plan")["plan"]
    assert [(p["node_id"], p["action"]) for p in plan] == [
        ("source", "reuse"), ("left", "reuse"), ("right", "run"), ("join", "run")]
    table = setpoint(home, "recover", eid, "--plan", check=True).stdout
    assert "injected failure" in table
    marker.unlink()
    recovered = setpoint_json(home, "recover", eid)
    assert recovered["execution"]["phase"] == "SUCCEEDED"
    assert recovered["execution"]["outputs"] == {"o0": 10}
    assert [n["phase"] for n in recovered["nodes"]] == ["RECOVERED", "RECOVERED", "SUCCEEDED", "SUCCEEDED"]
    rid = recovered["execution"]["id"]
    tree = setpoint(home, "lineage", rid, check=True).stdout
    assert "join" in tree and "source" in tree and "workflow input 'x'" in tree
    lineage = setpoint_json(home, "lineage", rid, "--node", "left")["lineage"][0]
    assert lineage["produced_by"]["execution"] == eid  # recovered: produced by the source execution
    consumers = setpoint_json(home, "lineage", eid, "--node", "source", "--consumers")["consumers"]
    assert {(c["execution"], c["node"]) for c in consumers if c["depth"] == 1} >= {(eid, "left"), (eid, "right")}


@pytest.mark.remote
def test_relaunch_runs_the_captured_code_even_after_the_files_change(home: Path, tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    write(proj, body="x * 2", code_in_key=True)
    first = run(home, proj, "--x", "5")
    assert first["execution"]["outputs"] == {"o0": 10}
    write(proj, body="x * 1000", code_in_key=True)  # the file on disk changes
    setpoint(home, "cache", "evict", "--task", "cached.scale", check=True)  # so the relaunch must run
    again = setpoint_json(home, "relaunch", first["execution"]["id"])
    assert status(again) == "PUT"  # it ran (no cache hit) ...
    assert again["execution"]["outputs"] == {"o0": 10}  # ... the pinned snapshot, not the new file
    assert again["execution"]["code_digest"] == first["execution"]["code_digest"]
    fresh = run(home, proj, "--x", "5")
    assert fresh["execution"]["outputs"] == {"o0": 5000}
    assert fresh["execution"]["code_digest"] != first["execution"]["code_digest"]
