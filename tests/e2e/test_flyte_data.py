"""Data types as flytekit users write them, through `setpoint run` and an in-process client."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from setpoint.client.embedded import Client
from setpoint.core.phases import ExecutionPhase
from tests.e2e import wf_flyte_data as wfd
from tests.e2e.cli_util import setpoint, setpoint_json

pytestmark = pytest.mark.timeout(180)

WF = "tests/e2e/wf_flyte_data.py"


def _table(tmp_path: Path) -> tuple[Path, Path]:
    df = pd.DataFrame({"x": [1, 2, 3], "y": ["a", "b", "c"]})
    parquet, csv = tmp_path / "in.parquet", tmp_path / "in.csv"
    df.to_parquet(parquet)
    df.to_csv(csv, index=False)
    return parquet, csv


def test_structured_datasets_files_and_pickles_in_process(client: Client, tmp_path: Path) -> None:
    rec = client.run(wfd.sd_wf, {"n": 4}, timeout=60)
    assert client.outputs(rec.id) == {"o0": "['a']:6", "o1": ["a", "b", "c"]}  # the consumer read only 'a'
    rec = client.run(wfd.frame_wf, {}, timeout=60)
    assert client.outputs(rec.id) == {"o0": ["b", "x", "y"]}  # declared columns kept, 'extra' dropped
    rec = client.run(wfd.file_wf, {"rows": 3}, timeout=60)
    assert client.outputs(rec.id) == {"o0": "data.csv:3:csv:True"}
    rec = client.run(wfd.pickle_wf, {"x": 4}, timeout=60)
    assert client.outputs(rec.id) == {"o0": 40}
    parquet, _ = _table(tmp_path)
    rec = client.run(wfd.uri_wf, {"path": str(parquet)}, timeout=60)
    assert client.outputs(rec.id) == {"o0": "3 rows: x,y"}


def test_hash_method_keys_downstream_caches_in_process(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = tmp_path / "calls"
    monkeypatch.setenv(wfd.CALLS, str(calls))
    for tag in ("x", "y"):  # different bytes ('tag' differs), same HashMethod hash (same 'a'): one run
        rec = client.run(wfd.hashed_wf, {"tag": tag}, timeout=60)
        assert rec.phase == ExecutionPhase.SUCCEEDED and client.outputs(rec.id) == {"o0": 6}
    assert calls.read_text() == "x"
    for tag in ("x", "y"):  # without HashMethod the content digest differs: two runs
        rec = client.run(wfd.plain_wf, {"tag": tag}, timeout=60)
        assert client.outputs(rec.id) == {"o0": 6}
    assert calls.read_text() == "xxx"


def test_structured_dataset_and_file_inputs_from_local_paths_through_the_cli(home: Path, tmp_path: Path) -> None:
    parquet, csv = _table(tmp_path)
    for path in (parquet, csv):
        out = setpoint_json(home, "run", f"{WF}:sd_input_wf", "--sd", str(path))
        assert out["execution"]["phase"] == "SUCCEEDED", out
        assert out["execution"]["outputs"] == {"o0": "3 rows: x,y"}
    text = tmp_path / "lines.txt"
    text.write_text("1\n2\n3\n4\n")
    out = setpoint_json(home, "run", f"{WF}:file_input_wf", "--f", str(text))
    assert out["execution"]["outputs"] == {"o0": 4}
    again = setpoint_json(home, "run", f"{WF}:file_input_wf", "--f", str(text))  # content-addressed: same blob
    first = setpoint_json(home, "describe", out["execution"]["id"])
    second = setpoint_json(home, "describe", again["execution"]["id"])
    assert json.dumps(first).count(str(_sha_of(first))) and _sha_of(first) == _sha_of(second)
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    (folder / "top.txt").write_text("t")
    (folder / "sub" / "deep.txt").write_text("d")
    out = setpoint_json(home, "run", f"{WF}:dir_input_wf", "--d", str(folder))
    assert out["execution"]["outputs"] == {"o0": ["sub", "top.txt", "sub/deep.txt", "top.txt"]}
    inputs = tmp_path / "inputs.json"
    inputs.write_text(json.dumps({"f": str(text)}))
    out = setpoint_json(home, "run", f"{WF}:file_input_wf", "--inputs", str(inputs))
    assert out["execution"]["outputs"] == {"o0": 4}


def _sha_of(described: dict[str, object]) -> str:
    text = json.dumps(described)
    start = text.index('"sha256": "') + len('"sha256": "')
    return text[start : start + 64]


def test_bad_local_paths_are_exit_2_naming_the_input(home: Path, tmp_path: Path) -> None:
    proc = setpoint(home, "run", f"{WF}:sd_input_wf", "--sd", str(tmp_path / "missing.parquet"))
    assert proc.returncode == 2 and "input 'sd'" in proc.stderr and "does not exist" in proc.stderr
    not_a_table = tmp_path / "junk.parquet"
    not_a_table.write_text("not parquet")
    proc = setpoint(home, "run", f"{WF}:sd_input_wf", "--sd", str(not_a_table))
    assert proc.returncode == 2 and "input 'sd'" in proc.stderr and "cannot read" in proc.stderr
    pickled = {"$ref": {"uri": "file:///x", "sha256": "0" * 64, "size": 1, "format": "pickle"}}
    proc = setpoint(home, "run", f"{WF}:sd_input_wf", "--sd", json.dumps(pickled))
    assert proc.returncode == 2, proc.stderr
    assert "input 'sd': a pickled value cannot be given as an input" in proc.stderr


@pytest.mark.remote
def test_structured_datasets_files_and_pickles_through_the_cli(home: Path) -> None:
    out = setpoint_json(home, "run", f"{WF}:sd_wf", "--n", "5")
    assert out["execution"]["outputs"] == {"o0": "['a']:10", "o1": ["a", "b", "c"]}
    out = setpoint_json(home, "run", f"{WF}:frame_wf")
    assert out["execution"]["outputs"] == {"o0": ["b", "x", "y"]}
    out = setpoint_json(home, "run", f"{WF}:file_wf", "--rows", "2")
    assert out["execution"]["outputs"] == {"o0": "data.csv:2:csv:True"}
    out = setpoint_json(home, "run", f"{WF}:pickle_wf", "--x", "3")
    assert out["execution"]["outputs"] == {"o0": 30}


def test_hash_methods_key_downstream_caches_through_the_cli(home: Path, tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    for tag in ("x", "y"):
        out = setpoint_json(home, "run", f"{WF}:hashed_wf", "--tag", tag, env={wfd.CALLS: str(calls)})
        assert out["execution"]["outputs"] == {"o0": 6}
    assert calls.read_text() == "x"


def test_a_deployment_can_forbid_pickling(home: Path) -> None:
    proc = setpoint(home, "run", f"{WF}:pickle_wf", "--x", "3", env={"SETPOINT_PICKLE": "forbid"})
    assert proc.returncode != 0
    assert "SETPOINT_PICKLE=forbid" in proc.stderr and "make_opaque" in proc.stderr
