"""Start and stop a real two-node Ray cluster on this machine (the Ray tests and bench/ray.py use it).

Two ``ray start --block`` processes, each in its own session: a head node (resource ``head``) and
a worker node joined to it (resource ``second``), 2 CPUs each. On one machine both are separate
raylets with separate node ids. `stop` kills exactly the processes `start` started and their
descendants, by pid (``ray stop`` would kill every Ray process on the machine).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

NODE_CPUS = 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RayCluster:
    address: str
    head: subprocess.Popen[bytes]
    worker: subprocess.Popen[bytes]
    temp_dir: Path

    def node_ids(self) -> list[str]:
        import json

        out = subprocess.run(
            [sys.executable, "-c", _NODES_SCRIPT, self.address], capture_output=True, text=True, check=True, timeout=60
        )
        return list(json.loads(out.stdout.strip().splitlines()[-1]))


_NODES_SCRIPT = """
import json, sys, logging, ray
ray.init(address=sys.argv[1], logging_level=logging.ERROR, log_to_driver=False)
print(json.dumps([n["NodeID"] for n in ray.nodes() if n["Alive"]]))
"""


def _ray_bin() -> str:
    found = Path(sys.executable).with_name("ray")
    return str(found) if found.exists() else (shutil.which("ray") or "ray")


def _start_node(args: list[str], log: Path, env: dict[str, str] | None) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(
            [_ray_bin(), "start", "--block", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )


def _wait_nodes(address: str, count: int, procs: list[subprocess.Popen[bytes]], deadline: float) -> None:
    script = (
        "import sys, logging, ray\n"
        "ray.init(address=sys.argv[1], logging_level=logging.ERROR, log_to_driver=False)\n"
        "print(sum(1 for n in ray.nodes() if n['Alive']))\n"
    )
    while time.monotonic() < deadline:
        for p in procs:
            if p.poll() is not None:
                raise RuntimeError(f"ray start exited with code {p.returncode}")
        out = subprocess.run([sys.executable, "-c", script, address], capture_output=True, text=True, timeout=60)
        lines = out.stdout.strip().splitlines()
        if out.returncode == 0 and lines and int(lines[-1]) >= count:
            return
        time.sleep(0.5)
    raise RuntimeError(f"the Ray cluster at {address} did not reach {count} alive nodes in time")


def _kill_tree(procs: list[subprocess.Popen[bytes]]) -> None:
    """Kill the ray start processes and everything they started (raylets, GCS, workers), by pid."""
    import psutil

    victims: list[psutil.Process] = []
    for p in procs:
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(p.pid)
            victims.extend(root.children(recursive=True))
            victims.append(root)
    for proc in victims:
        with contextlib.suppress(psutil.Error):
            proc.send_signal(signal.SIGKILL)
    psutil.wait_procs(victims, timeout=10)
    for p in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(timeout=10)


def start(node_cpus: int = NODE_CPUS, timeout: float = 90, env: dict[str, str] | None = None) -> RayCluster:
    """A head node and a second node joined to it; RuntimeError with their logs if they do not come up.

    ``env`` is added to the nodes' environment, which their worker processes inherit (how a real
    cluster's nodes get, say, credentials for an object store).
    """
    # a short path: Ray's unix sockets live under it and socket paths are limited to ~107 bytes
    temp_dir = Path(tempfile.mkdtemp(prefix="spray-", dir="/tmp"))
    port = _free_port()
    address = f"127.0.0.1:{port}"
    common = [
        "--node-ip-address=127.0.0.1",
        f"--num-cpus={node_cpus}",
        "--object-store-memory=100000000",
        "--disable-usage-stats",
        f"--temp-dir={temp_dir}",
    ]
    head = _start_node(
        [
            "--head",
            f"--port={port}",
            "--include-dashboard=false",
            f"--ray-client-server-port={_free_port()}",
            f"--dashboard-port={_free_port()}",
            '--resources={"head": 1}',
            *common,
        ],
        temp_dir / "head.log",
        env,
    )
    procs = [head]
    try:
        deadline = time.monotonic() + timeout
        _wait_nodes(address, 1, procs, deadline)
        worker = _start_node(
            [f"--address={address}", '--resources={"second": 1}', *common], temp_dir / "worker.log", env
        )
        procs.append(worker)
        _wait_nodes(address, 2, procs, deadline)
    except BaseException as exc:
        _kill_tree(procs)
        logs = "".join(p.read_text(errors="replace")[-2000:] for p in temp_dir.glob("*.log"))
        shutil.rmtree(temp_dir, ignore_errors=True)
        raise RuntimeError(f"could not start a two-node Ray cluster: {exc}\n{logs}") from exc
    return RayCluster(address, head, worker, temp_dir)


def stop(cluster: RayCluster) -> None:
    _kill_tree([cluster.head, cluster.worker])
    shutil.rmtree(cluster.temp_dir, ignore_errors=True)
