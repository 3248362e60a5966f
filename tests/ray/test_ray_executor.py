"""The Ray executor on a real two-node Ray cluster (see conftest): runs, placement, faults, abort.

Each test uses a fresh setpoint home; the cluster is shared by the session. The controller runs
in this process (through `Client`) or, where a test kills it, as a real `setpoint` process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, cast

import psutil
import pytest

from setpoint.adapters.blobs.local import LocalBlobStore
from setpoint.adapters.bundle import capture
from setpoint.adapters.bundle import store as store_bundle
from setpoint.adapters.executor.attempt_dir import read_launch_log
from setpoint.adapters.executor.ray import RayExecutor
from setpoint.client.embedded import Client
from setpoint.config.settings import Settings
from setpoint.core.model import Observed
from setpoint.core.phases import AttemptPhase, ExecutionPhase
from setpoint.errors import InputError
from setpoint.ports import LaunchRequest
from tests.ray import wf_ray
from tests.ray.cluster import RayCluster

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.ray, pytest.mark.timeout(180)]


def placements(settings: Settings, eid: str) -> dict[str, dict[str, Any]]:
    """Attempt id -> where its Ray task ran (the attempts that ran on Ray)."""
    root = settings.attempts_root
    return {
        "/".join(p.parent.relative_to(root).parts): json.loads(p.read_text()) for p in (root / eid).glob("*/*/ray.json")
    }


def assert_each_attempt_ran_once(settings: Settings) -> None:
    runs = Counter(aid for aid, _ in read_launch_log(settings.attempts_root))
    assert runs and max(runs.values()) == 1, [aid for aid, n in runs.items() if n > 1]


def wait_for(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def running_ray_attempts(settings: Settings, eid: str) -> list[str]:
    """Ray attempts whose task has claimed its attempt (is running or has run)."""
    return [aid for aid in placements(settings, eid) if (settings.attempts_root / aid / "pid").exists()]


def cli(settings: Settings, *args: str, ray_address: str, **kw: Any) -> subprocess.Popen[str]:
    env = {**os.environ, "SETPOINT_RAY_ADDRESS": ray_address, "SETPOINT_RETRY_BACKOFF_S": "0.2"}
    env.pop("SETPOINT_HOME", None)
    return subprocess.Popen(
        [sys.executable, "-m", "setpoint.cli.main", "--home", str(settings.home), *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def test_ml_pipeline_runs_on_ray_from_the_cli(ray_settings: Settings, ray_cluster: RayCluster) -> None:
    proc = cli(
        ray_settings,
        "run",
        "examples/ml_pipeline.py:pipeline",
        "--dataset",
        "wine",
        "--executor",
        "ray",
        "--output",
        "json",
        ray_address=ray_cluster.address,
    )
    out, err = proc.communicate(timeout=150)
    assert proc.returncode == 0, out + err
    result = json.loads(out)
    best = result["execution"]["outputs"]["o0"]
    assert best["kind"] in ("logistic_regression", "random_forest", "svm", "knn")
    assert 0.8 < best["accuracy"] <= 1.0
    eid = result["execution"]["id"]
    ran = placements(ray_settings, eid)
    with Client(ray_settings) as reader:
        attempts = [a for n in reader.nodes(eid) for a in n.attempts]
    assert len(attempts) == 11
    assert {a.executor for a in attempts} == {"ray"}
    assert len(ran) == len(attempts)  # every attempt left its Ray placement behind
    assert_each_attempt_ran_once(ray_settings)
    logs = cli(ray_settings, "logs", eid, "train-2", ray_address=ray_cluster.address)
    text, _ = logs.communicate(timeout=60)
    assert "trained svm on" in text  # MODELS[2]


def test_dynamic_tasks_build_their_sub_workflows_on_ray(ray_settings: Settings, ray_cluster: RayCluster) -> None:
    proc = cli(
        ray_settings,
        "run",
        "examples/control_flow/dynamic.py:refine",
        "--executor",
        "ray",
        "--output",
        "json",
        ray_address=ray_cluster.address,
    )
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, out + err
    result = json.loads(out)
    assert abs(result["execution"]["outputs"]["o0"] - 2**0.5) < 1e-6
    eid = result["execution"]["id"]
    with Client(ray_settings) as reader:
        attempts = [a for n in reader.nodes(eid, children=True) for a in n.attempts]
    assert len(attempts) > 3 and {a.executor for a in attempts} == {"ray"}
    assert len(placements(ray_settings, eid)) == len(attempts)  # each one ran on a Ray node
    assert_each_attempt_ran_once(ray_settings)


def test_a_500_element_map_runs_on_both_nodes(ray_settings: Settings, ray_cluster: RayCluster) -> None:
    with Client(ray_settings) as client:
        rec = client.run(wf_ray.fan, {"n": 500}, timeout=150)
        assert rec.phase is ExecutionPhase.SUCCEEDED, rec.error
        assert client.outputs(rec.id) == {"o0": sum(i * i for i in range(500))}
    ran = placements(ray_settings, rec.id)
    assert len(ran) == 500
    nodes_used = Counter(p["node_id"] for p in ran.values())
    assert set(nodes_used) == set(ray_cluster.node_ids())
    assert_each_attempt_ran_once(ray_settings)


def test_a_lost_ray_worker_is_retried_under_a_new_attempt_id(
    ray_settings: Settings, ray_cluster: RayCluster, tmp_path: Path
) -> None:
    marker = tmp_path / "done"
    with Client(ray_settings) as client:
        client.start_controller()
        eid = client.create_execution(wf_ray.one_slow, {"seconds": 120.0, "marker": str(marker)})
        first = f"{eid}/slow/1"
        place = wait_for(
            lambda: running_ray_attempts(ray_settings, eid) and placements(ray_settings, eid).get(first),
            60,
            "the first attempt to start on Ray",
        )
        os.kill(place["pid"], signal.SIGKILL)  # the Ray worker process running the attempt
        rec = client.wait(eid, timeout=90)
        assert rec.phase is ExecutionPhase.SUCCEEDED, rec.error
        (node,) = client.nodes(eid)
    assert [a.phase for a in node.attempts] == [AttemptPhase.FAILED, AttemptPhase.SUCCEEDED]
    lost = node.attempts[0].error
    assert lost is not None and lost.kind.value == "SYSTEM" and lost.code == "ProcessLost"
    assert "Ray worker" in lost.message
    assert marker.read_text() == f"{eid}/slow/2"
    assert_each_attempt_ran_once(ray_settings)


def test_a_lost_launcher_takes_its_attempts_with_it_and_they_are_retried(
    ray_settings: Settings, ray_cluster: RayCluster, tmp_path: Path
) -> None:
    import ray

    from setpoint.adapters.executor.ray_node import LAUNCHER_NAME, NAMESPACE

    marker = tmp_path / "done"
    with Client(ray_settings) as client:
        client.start_controller()
        eid = client.create_execution(wf_ray.one_slow, {"seconds": 120.0, "marker": str(marker)})
        place = wait_for(
            lambda: running_ray_attempts(ray_settings, eid) and placements(ray_settings, eid).get(f"{eid}/slow/1"),
            60,
            "the first attempt to start on Ray",
        )
        launcher = ray.get_actor(LAUNCHER_NAME, namespace=NAMESPACE)
        pid = cast(int, ray.get(launcher.pid.remote(), timeout=30))  # cast: an actor method's result is untyped
        os.kill(pid, signal.SIGKILL)
        rec = client.wait(eid, timeout=120)
        assert rec.phase is ExecutionPhase.SUCCEEDED, rec.error
        (node,) = client.nodes(eid)
    assert [a.phase for a in node.attempts] == [AttemptPhase.FAILED, AttemptPhase.SUCCEEDED]
    assert node.attempts[0].error is not None and node.attempts[0].error.code == "ProcessLost"
    wait_for(lambda: not psutil.pid_exists(place["pid"]), 30, "Ray to stop the orphaned attempt's worker")
    assert marker.read_text() == f"{eid}/slow/2"
    assert_each_attempt_ran_once(ray_settings)


def test_a_killed_controller_is_replaced_and_ray_attempts_are_readopted(
    ray_settings: Settings, ray_cluster: RayCluster
) -> None:
    run = cli(
        ray_settings,
        "run",
        "tests/ray/wf_ray.py:naps",
        "--n",
        "6",
        "--seconds",
        "6",
        ray_address=ray_cluster.address,
        start_new_session=True,
    )
    try:
        with Client(ray_settings) as reader:
            eid = wait_for(lambda: [e.id for e in reader.executions()], 60, "the execution to be created")[0]
        running = wait_for(lambda: running_ray_attempts(ray_settings, eid), 90, "Ray attempts to start")
    finally:
        os.killpg(run.pid, signal.SIGKILL)  # the controller, mid-run (its Ray attempts live on)
        run.communicate(timeout=30)
    tasks_before = {aid: placements(ray_settings, eid)[aid]["task_id"] for aid in running}
    second = cli(ray_settings, "controller", "--exit-when-idle", ray_address=ray_cluster.address)
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, out + err
    with Client(ray_settings) as client:
        rec = client.get(eid)
        assert rec.phase is ExecutionPhase.SUCCEEDED, rec.error
        assert client.outputs(rec.id) == {"o0": sum(range(6))}
        attempts = client.store.load_attempts(eid)
    assert all(a.number == 1 for a in attempts), [(a.node_id, a.number, a.error) for a in attempts]
    after = placements(ray_settings, eid)
    assert {aid: after[aid]["task_id"] for aid in running} == tasks_before  # the same Ray tasks finished them
    assert_each_attempt_ran_once(ray_settings)


def test_a_mixed_workflow_passes_data_between_local_and_ray_tasks(
    ray_settings: Settings, ray_cluster: RayCluster
) -> None:
    n = 20_000  # the rows exceed the offload threshold: they travel through the blob store
    with Client(ray_settings) as client:
        rec = client.run(wf_ray.mixed, {"n": n}, timeout=120)
        assert rec.phase is ExecutionPhase.SUCCEEDED, rec.error
        assert client.outputs(rec.id) == {"o0": sum(i * 0.5 for i in range(n)) + n}
        by_node = {v.node_id: v.attempts[0].executor for v in client.nodes(rec.id)}
        logs = {(aid, stream): text for aid, stream, text in client.logs(rec.id, "make_rows")}
        node = next(v for v in client.nodes(rec.id) if v.node_id == "make_rows")
    assert by_node == {"make_rows": "ray", "write_file": "local", "count_lines": "ray", "combine": "local"}
    assert set(placements(ray_settings, rec.id)) == {f"{rec.id}/make_rows/1", f"{rec.id}/count_lines/1"}
    assert logs[(f"{rec.id}/make_rows/1", "stdout")] == f"making {n} rows on ray\n"
    assert "$ref" in json.dumps(node.record.outputs)  # offloaded, not inline


S3_WORKFLOW = """
from pathlib import Path

from setpoint import File, task, workflow

SALT = {salt!r}  # a module no earlier run has seen: its code bundle is on no Ray node yet


@task(executor="ray")
def rows(n: int) -> list[float]:
    return [float(i) for i in range(n)]


@task
def save(rows: list[float]) -> File:
    Path("rows.txt").write_text("\\n".join(map(str, rows)))
    return File(Path("rows.txt"))


@task(executor="ray")
def count(f: File, rows: list[float]) -> str:
    return f"{{SALT}}:{{len(Path(f.path).read_text().splitlines())}}:{{sum(rows)}}"


@workflow
def through_s3(n: int = 20000) -> str:
    r = rows(n=n)
    return count(f=save(rows=r), rows=r)
"""


def test_code_and_data_reach_ray_workers_through_an_s3_blob_store(
    ray_cluster: RayCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    import importlib
    import uuid

    server = request.getfixturevalue("s3_server")  # the same server the cluster's nodes were given
    for name, value in server.env().items():
        monkeypatch.setenv(name, value)
    salt = uuid.uuid4().hex
    module = f"wf_s3_{salt[:8]}"
    code_dir = tmp_path / "code"
    code_dir.mkdir()
    (code_dir / f"{module}.py").write_text(S3_WORKFLOW.format(salt=salt))
    monkeypatch.syspath_prepend(str(code_dir))
    wf = importlib.import_module(module).through_s3
    url = f"s3://{server.new_bucket()}/setpoint"
    env = {"SETPOINT_RAY_ADDRESS": ray_cluster.address, "SETPOINT_BLOBS": url}
    settings = Settings.from_env(tmp_path / "home", env=env)
    with Client(settings) as client:
        rec = client.run(wf, {"n": 20_000}, timeout=120)
        assert rec.phase is ExecutionPhase.SUCCEEDED, rec.error
        assert client.outputs(rec.id) == {"o0": f"{salt}:20000:{float(sum(range(20_000)))}"}
        code_digest = rec.code_digest
    ran = placements(settings, rec.id)
    assert set(ran) == {f"{rec.id}/rows/1", f"{rec.id}/count/1"}
    assert not (settings.home / "blobs").exists()  # every payload, file and the bundle went to S3
    bundle_on_node = Path(tempfile.gettempdir()) / "setpoint-ray-bundles" / code_digest
    assert (bundle_on_node / f"{module}.py").read_text() == S3_WORKFLOW.format(salt=salt)


def test_a_request_no_node_can_satisfy_fails_with_the_reason(ray_settings: Settings, ray_cluster: RayCluster) -> None:
    with Client(ray_settings) as client:
        rec = client.run(wf_ray.unschedulable, timeout=60)
        (node,) = client.nodes(rec.id)
    assert rec.phase is ExecutionPhase.FAILED
    assert rec.error is not None and "no node of the Ray cluster can satisfy the request (CPU=64)" in rec.error.message
    assert [a.error.code for a in node.attempts if a.error] == ["Unschedulable"]  # not retried


def test_with_a_pending_timeout_an_impossible_request_waits_then_fails(ray_cluster: RayCluster, tmp_path: Path) -> None:
    env = {
        "SETPOINT_RETRY_BACKOFF_S": "0.1",
        "SETPOINT_RAY_ADDRESS": ray_cluster.address,
        "SETPOINT_RAY_PENDING_TIMEOUT_S": "2",
    }
    settings = Settings.from_env(tmp_path / "home", env=env)
    with Client(settings) as client:
        rec = client.run(wf_ray.unschedulable, timeout=90)
        (node,) = client.nodes(rec.id)
    assert rec.phase is ExecutionPhase.FAILED
    codes = [a.error.code for a in node.attempts if a.error]
    assert codes and set(codes) == {"PendingTimeout"}
    assert len(codes) == settings.reconcile.max_system_retries + 1  # a system error: retried, then failed
    assert rec.error is not None and "not started on the Ray cluster after" in rec.error.message
    assert not placements(settings, rec.id)  # none of them ever started


def test_abort_kills_the_ray_attempt(ray_settings: Settings, ray_cluster: RayCluster, tmp_path: Path) -> None:
    marker = tmp_path / "done"
    with Client(ray_settings) as client:
        client.start_controller()
        eid = client.create_execution(wf_ray.one_slow, {"seconds": 120.0, "marker": str(marker)})
        place = wait_for(
            lambda: running_ray_attempts(ray_settings, eid) and placements(ray_settings, eid)[f"{eid}/slow/1"],
            60,
            "the attempt to start on Ray",
        )
        client.terminate(eid)
        rec = client.wait(eid, timeout=60)
        (node,) = client.nodes(eid)
    assert rec.phase is ExecutionPhase.ABORTED
    assert [a.phase for a in node.attempts] == [AttemptPhase.ABORTED]
    wait_for(lambda: not psutil.pid_exists(place["pid"]), 30, "the Ray worker to be killed")
    assert not marker.exists()


def _request(settings: Settings, aid: str, code_digest: str) -> LaunchRequest:
    payload = {"blob_root": str(settings.blob_root), "code_digest": code_digest, "task": {"name": "echo"}}
    return LaunchRequest(attempt_id=aid, entrypoint="tests.ray.wf_ray:echo_entry", payload=payload)


def test_launch_is_idempotent_across_executor_instances(ray_settings: Settings, ray_cluster: RayCluster) -> None:
    root = ray_settings.attempts_root
    blobs = LocalBlobStore(ray_settings.blob_root)
    digest = store_bundle(capture({"tests.ray.wf_ray"}), blobs).sha256
    one, two = RayExecutor(ray_cluster.address, root), RayExecutor(ray_cluster.address, root)
    try:
        for ex in (one, two, one, two):
            ex.launch(_request(ray_settings, "e1/n/1", digest))
        obs = wait_for(lambda: _terminal(one.observe("e1/n/1")), 60, "the attempt to end")
        assert obs.status == Observed.SUCCEEDED, obs.error
        assert obs.outputs is not None and obs.outputs["attempt"] == "e1/n/1"
        assert two.observe("e1/n/1") == obs
        one.launch(_request(ray_settings, "e1/n/1", digest))  # after the end, too: nothing runs again
        # a bundle the blob store does not hold: the attempt never starts, and says why
        two.launch(_request(ray_settings, "e1/m/1", "0" * 64))
        lost = wait_for(lambda: _terminal(two.observe("e1/m/1")), 60, "the second attempt to end")
        assert lost.error is not None and lost.error.code == "LaunchLost"
        assert "could not fetch code bundle 000000000000" in lost.error.message
        assert RayExecutor(ray_cluster.address, root).observe("e1/n/2").status == Observed.UNKNOWN
    finally:
        one.close()
        two.close()
    assert [aid for aid, _ in read_launch_log(root)] == ["e1/n/1"]


def _terminal(obs: Any) -> Any:
    return obs if obs.status in (Observed.SUCCEEDED, Observed.FAILED) else None


def test_ray_tasks_are_refused_early_without_a_cluster(tmp_path: Path) -> None:
    settings = Settings.from_env(tmp_path / "home", env={})
    with Client(settings) as client, pytest.raises(InputError, match="SETPOINT_RAY_ADDRESS"):
        client.create_execution(wf_ray.fan, {"n": 3})
    with Client(settings) as client, pytest.raises(InputError, match="known executors: local, ray"):
        client.create_execution(wf_ray.mixed, executor="gpu-farm")


def test_resource_requests_map_to_ray_options_and_bad_ones_are_named() -> None:
    from setpoint.adapters.executor.ray import infeasible, parse_memory, ray_options
    from setpoint.errors import SetpointError

    assert parse_memory("512Mi", "t") == 512 * 1024**2
    assert parse_memory("1.5G", "t") == 1_500_000_000
    assert parse_memory("2gi", "t") == 2 * 1024**3
    assert parse_memory("1000", "t") == 1000
    assert ray_options({"cpu": "0.5", "mem": "1Gi", "gpu": "1"}, "task 'fit'", 1.0) == {
        "num_cpus": 0.5,
        "memory": 1024**3,
        "num_gpus": 1.0,
    }
    assert ray_options({}, "task 'fit'", 1.0) == {"num_cpus": 1.0}
    with pytest.raises(SetpointError, match=r"task 'fit': mem='lots' is not a quantity like '512Mi'"):
        ray_options({"mem": "lots"}, "task 'fit'", 1.0)
    with pytest.raises(SetpointError, match=r"task 'fit': unknown resource request 'disk'"):
        ray_options({"disk": "1"}, "task 'fit'", 1.0)
    nodes = [{"CPU": 2.0, "memory": 8 * 1024**3}, {"CPU": 4.0, "memory": 4 * 1024**3}]
    assert infeasible({"num_cpus": 4.0, "memory": 2 * 1024**3}, nodes) is None
    reason = infeasible({"num_cpus": 4.0, "memory": 6 * 1024**3}, nodes)  # no single node has both
    assert reason is not None and "CPU=4, memory=6.00Gi" in reason and "2 alive nodes" in reason
    assert infeasible({"num_cpus": 1.0, "num_gpus": 1.0}, nodes) is not None
