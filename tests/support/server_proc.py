"""A real `setpoint server` process on a free localhost port, for tests that talk to it over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServerProcess:
    url: str
    home: Path
    proc: subprocess.Popen[str]

    def stop(self, timeout: float = 30) -> str:
        """SIGTERM, wait for the exit; returns what it wrote to stderr."""
        if self.proc.poll() is None:
            self.proc.terminate()
        _, err = self.proc.communicate(timeout=timeout)
        return err


def start_server(home: Path, *args: str, env: dict[str, str] | None = None, wait_s: float = 60) -> ServerProcess:
    """Start ``setpoint --home HOME server ARGS`` and return once it answers."""
    port = free_port()
    full_env = {**os.environ, "SETPOINT_RETRY_BACKOFF_S": "0.05", **(env or {})}
    for name in ("SETPOINT_HOME", "SETPOINT_SERVER", "SETPOINT_TOKEN", "SETPOINT_PROJECT"):
        full_env.pop(name, None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "setpoint.cli.main", "--home", str(home), "server", "--port", str(port), *args],
        cwd=REPO,
        env=full_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + wait_s
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"setpoint server exited {proc.returncode}: {proc.communicate()[1]}")
        try:
            if httpx.get(f"{url}/openapi.json", timeout=5).status_code == 200:
                return ServerProcess(url, home, proc)
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"setpoint server did not answer on {url} within {wait_s}s")
        time.sleep(0.05)
