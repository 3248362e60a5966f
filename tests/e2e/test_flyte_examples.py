"""Every flytekit-style example in examples/flyte runs through the CLI to the result its docstring states."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.cli_util import setpoint, setpoint_json

pytestmark = [pytest.mark.timeout(240), pytest.mark.slow]

EX = "examples/flyte"


def run(home: Path, target: str, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    out = setpoint_json(home, "run", f"{EX}/{target}", *args, env=env)
    assert out["execution"]["phase"] == "SUCCEEDED", out["execution"]["error"]
    return out


def outputs(home: Path, target: str, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    result: dict[str, Any] = run(home, target, *args, env=env)["execution"]["outputs"]
    return result


def node(out: dict[str, Any], node_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(n for n in out["nodes"] if n["id"] == node_id)
    return found


def test_caching(home: Path) -> None:
    texts = '["the cat sat", "a dog ran far"]'
    first = run(home, "caching.py:featurize", "--texts", texts)
    assert first["execution"]["outputs"] == {"o0": 3.5}
    assert node(first, "extract")["cache_status"] != "HIT"
    second = run(home, "caching.py:featurize", "--texts", texts)
    assert second["execution"]["outputs"] == {"o0": 3.5}
    assert node(second, "extract")["cache_status"] == "HIT"


def test_conditionals(home: Path) -> None:
    assert outputs(home, "conditionals.py:promote", "--accuracy", "0.93") == {"o0": "deployed (accuracy 0.93)"}
    assert outputs(home, "conditionals.py:promote", "--accuracy", "0.8") == {
        "o0": "shadow traffic only (accuracy 0.80)"
    }
    low = setpoint(home, "run", f"{EX}/conditionals.py:promote", "--accuracy", "0.2")
    assert low.returncode == 1 and "below every bar" in low.stdout + low.stderr
    assert outputs(home, "conditionals.py:smoke_then_deploy", "--accuracy", "0.8") == {"o0": "deployed (accuracy 0.80)"}


def test_dynamic(home: Path) -> None:
    out = run(home, "dynamic.py:sweep", "--learning-rates", "[0.3, 0.1, 0.03]")
    assert out["execution"]["outputs"] == {"o0": 0.3}
    described = setpoint_json(home, "describe", out["execution"]["id"], "--children")
    assert sum(1 for n in described["nodes"] if n["id"].startswith("trials.train")) == 3


def test_map_tasks(home: Path) -> None:
    got = outputs(home, "map_tasks.py:score_shards", "--shards", "[[1, 2, 3], [4, 5], [6]]")["o0"]
    assert math.isclose(got, 12.5)
    scaled = outputs(home, "map_tasks.py:score_shards", "--shards", "[[1, 2, 3], [4, 5], [6]]", "--scale", "2")
    assert math.isclose(scaled["o0"], 25.0)


def test_subworkflows(home: Path) -> None:
    out = run(home, "subworkflows.py:train_on_clean", "--raw", "[1.0, -1.0, 2.0, 100.0, 3.0]")
    assert out["execution"]["outputs"] == {"o0": 4.0}
    assert {"clean.drop_negative", "clean.clip", "mean"} <= {n["id"] for n in out["nodes"]}


def test_dataclasses_and_attribute_access(home: Path) -> None:
    config = '{"name": "ridge", "alpha": 0.5, "features": ["x1", "x2"]}'
    assert outputs(home, "dataclasses_access.py:evaluate", "--config", config) == {
        "o0": "ridge: r2=0.85 top weight=0.6667"
    }


def test_files_and_directories(home: Path) -> None:
    assert outputs(home, "files.py:shard_csv", "--rows", "10", "--shards", "3") == {
        "o0": {"part-0.csv": 4, "part-1.csv": 3, "part-2.csv": 3}
    }


def test_launch_plans(home: Path) -> None:
    assert outputs(home, "launch_plans.py:nightly") == {"o0": "sample: 1 epochs at lr=0.1 | prod: 20 epochs at lr=0.05"}


def test_retries(home: Path, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    out = run(home, "retries.py:fetch_with_retries", "--marker", str(marker))
    assert out["execution"]["outputs"] == {"o0": "payload"}
    assert marker.read_text() == "seen"
    assert node(out, "flaky_fetch")["attempts"] == 2


def test_failure_handler(home: Path, tmp_path: Path) -> None:
    ledger = tmp_path / "clusters.log"
    proc = setpoint(home, "run", f"{EX}/retries.py:guarded_job", "--name", "nightly", "--ledger", str(ledger))
    assert proc.returncode == 1
    assert "out of memory on cluster-nightly" in proc.stdout
    assert ledger.read_text() == "tore down cluster-nightly\n"


def test_secrets(home: Path) -> None:
    env = {"_FSEC_WAREHOUSE_TOKEN": "s3cr3t-canary"}
    out = outputs(home, "secret_requests.py:authenticated_query", "--table", "sales", env=env)
    assert out == {"o0": "SELECT * FROM sales (token 8a03ea8b)"}
    missing = setpoint(home, "run", f"{EX}/secret_requests.py:authenticated_query", "--table", "sales")
    assert missing.returncode == 1
    assert "s3cr3t-canary" not in missing.stdout + missing.stderr


def test_shell_task(home: Path) -> None:
    text = "the quick brown fox jumps over the lazy dog"
    assert outputs(home, "shell_tasks.py:word_stats", "--text", text) == {"o0": "the x2"}


def test_checkpoints(home: Path) -> None:
    out = run(home, "checkpoints.py:train_resumable", "--epochs", "9", "--crash-every", "4")
    assert out["execution"]["outputs"] == {"o0": "finished 9 epochs, this attempt started at epoch 8"}
    assert node(out, "train_epochs")["attempts"] == 3


def test_decks(home: Path) -> None:
    out = run(home, "decks.py:profile", "--values", "[3, 1, 4, 1, 5, 9, 2, 6]")
    assert out["execution"]["outputs"] == {"o0": 3.875}
    page = setpoint(home, "deck", out["execution"]["id"], "summarize", check=True).stdout.strip().splitlines()[-1]
    html = Path(page).read_text()
    assert "<td>9.0</td>" in html and "mean = 3.875 over 8 values" in html


def test_structured_dataset(home: Path) -> None:
    assert outputs(home, "structured_dataset.py:income_by_age", "--rows", "6") == {
        "o0": {"20": 2500.0, "30": 3500.0, "40": 4500.0}
    }


def test_sqlite_task(home: Path) -> None:
    assert outputs(home, "sql_reports.py:top_regions", "--min-orders", "2") == {
        "o0": ["north: 2 orders, 200", "east: 3 orders, 150"]
    }
    assert outputs(home, "sql_reports.py:top_regions", "--min-orders", "1") == {
        "o0": ["north: 2 orders, 200", "south: 1 orders, 200", "east: 3 orders, 150"]
    }


def test_basics_named_outputs(home: Path) -> None:
    out = outputs(home, "basics.py:forecast", "--xs", "[1, 2, 3, 4]", "--ys", "[2.0, 4.1, 5.9, 8.2]", "--at", "6")
    assert out.keys() == {"value", "slope"}
    assert math.isclose(out["value"], 12.19) and math.isclose(out["slope"], 2.04)


def test_imperative_workflow(home: Path) -> None:
    out = run(home, "imperative.py:pipeline", "--text", "  Hello,   Setpoint  ")
    assert out["execution"]["outputs"] == {"clean": "hello, setpoint", "length": 15}
    assert [n["id"] for n in out["nodes"]] == ["strip", "collapse_spaces", "lowercase", "count_chars"]


def test_gates(home: Path) -> None:
    eid = setpoint_json(home, "run", f"{EX}/gates.py:release", "--detach", "--score", "0.91")["execution"]["id"]
    setpoint(home, "signal", eid, "release_name", "v2.1", check=True)
    setpoint(home, "signal", eid, "ship_it", check=True)
    setpoint(home, "controller", "--exit-when-idle", check=True)
    assert setpoint_json(home, "describe", eid)["execution"]["outputs"] == {"o0": "released v2.1 (score 0.91)"}


def test_eager(home: Path) -> None:
    assert outputs(home, "eager.py:early_stopping", "--max-rounds", "10", "--target", "0.05") == {
        "o0": "stopped after 5 rounds, loss 0.0312, worst check 0.0319"
    }
    assert outputs(home, "eager.py:early_stopping", "--max-rounds", "3", "--target", "0.05") == {
        "o0": "no convergence in 3 rounds"
    }
