"""Every example runs, through the CLI, as the docs say."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.cli_util import setpoint, setpoint_json

pytestmark = [pytest.mark.timeout(240), pytest.mark.slow]


def run(home: Path, target: str, *args: str) -> dict[str, Any]:
    out = setpoint_json(home, "run", target, *args)
    assert out["execution"]["phase"] == "SUCCEEDED", out["execution"]["error"]
    return out


def test_ml_pipeline(home: Path) -> None:
    out = run(home, "examples/ml_pipeline.py:pipeline", "--dataset", "wine")
    best = out["execution"]["outputs"]["o0"]
    assert best["kind"] in ("logistic_regression", "random_forest", "svm", "knn")
    assert 0.8 < best["accuracy"] <= 1.0
    assert len(out["nodes"]) == 11


def test_branches(home: Path) -> None:
    assert run(home, "examples/control_flow/branches.py:quality_gate", "--accuracy", "0.93")["execution"][
        "outputs"
    ] == {"o0": "deployed a model scoring 0.93"}
    weak = setpoint(home, "run", "examples/control_flow/branches.py:quality_gate", "--accuracy", "0.2")
    assert weak.returncode == 1 and "too weak" in weak.stdout


def test_map_tasks(home: Path) -> None:
    lr = run(home, "examples/control_flow/map_tasks.py:sweep", "--trials", "7")["execution"]["outputs"]["o0"]
    assert math.isclose(lr, 0.01, rel_tol=1e-9)


def test_dynamic(home: Path) -> None:
    x = run(home, "examples/control_flow/dynamic.py:refine")["execution"]["outputs"]["o0"]
    assert abs(x - math.sqrt(2)) < 1e-6


def test_subworkflows(home: Path) -> None:
    out = run(home, "examples/control_flow/subworkflows.py:pipeline", "--n", "5")
    assert out["execution"]["outputs"] == {"o0": 0.5}
    assert [n["id"] for n in out["nodes"]] == ["preprocess.generate", "preprocess.normalize", "mean"]


def test_launch_plans(home: Path) -> None:
    out = run(home, "examples/control_flow/launch_plans.py:nightly_suite")
    assert out["execution"]["outputs"] == {"o0": "trained on prod for 3 epochs; trained on prod for 10 epochs"}


def test_gates(home: Path) -> None:
    eid = setpoint_json(home, "run", "examples/control_flow/gates.py:release", "--detach")["execution"]["id"]
    setpoint(home, "signal", eid, "approve_deploy", check=True)
    setpoint(home, "signal", eid, "traffic_share", "0.25", check=True)
    setpoint(home, "controller", "--exit-when-idle", check=True)
    out = setpoint_json(home, "describe", eid)
    assert out["execution"]["outputs"] == {"o0": "model-v7 serving 25% of traffic"}
