"""Helpers the fault scenarios share: replica processes, creating executions, figures."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from setpoint.client.embedded import Client
from setpoint.config.settings import Settings
from setpoint.core.reconcile import ReconcileConfig

REPO = Path(__file__).resolve().parents[2]
FULL = os.environ.get("SETPOINT_FAULTS_FULL") == "1"
RESULTS_DIR = Path(os.environ.get("SETPOINT_FAULTS_RESULTS") or REPO / "build" / "faults")


def fast_settings(home: Path, db_url: str | None = None, **kw: Any) -> Settings:
    return Settings(
        home=home,
        db_url=db_url,
        poll_interval_s=0.1,
        resync_interval_s=1.0,
        lease_ttl_s=5.0,
        reconcile=ReconcileConfig(backoff_base_s=0.05, backoff_max_s=0.2, max_system_retries=3),
    ).evolve(**kw)


def submitter(home: Path, db_url: str | None = None) -> Client:
    """A client with no controller: executions it creates are run by the replicas."""
    return Client(fast_settings(home, db_url))


class Replica:
    """A controller replica process (tests/faults/replica.py); ended only by its own pid."""

    def __init__(
        self,
        home: Path,
        *,
        db: str | None = None,
        lease: float = 5.0,
        crash_at: str | None = None,
        exit_when_idle: bool = False,
        slots: int | None = None,
        log: Path | None = None,
        leases: bool = True,
    ) -> None:
        args = [sys.executable, "-m", "tests.faults.replica", "--home", str(home), "--lease", str(lease)]
        if db:
            args += ["--db", db]
        if crash_at:
            args += ["--crash-at", crash_at]
        if exit_when_idle:
            args.append("--exit-when-idle")
        if slots:
            args += ["--slots", str(slots)]
        if not leases:
            args.append("--no-leases")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SETPOINT_") or k == "SETPOINT_FAULTS_FULL"}
        self.log = log or home.parent / f"replica-{time.monotonic_ns()}.log"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self._log_fh = open(self.log, "ab")  # noqa: SIM115 (closed in wait/kill)
        self.proc = subprocess.Popen(
            args, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=self._log_fh, stderr=subprocess.STDOUT
        )
        self.owner: str | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_ready(self, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.log.read_text().splitlines():
                if line.startswith("ready "):
                    self.owner = line.split(" ", 1)[1]
                    return self.owner
            if self.proc.poll() is not None:
                raise AssertionError(f"replica exited {self.proc.returncode}:\n{self.output()}")
            time.sleep(0.05)
        raise AssertionError(f"replica not ready after {timeout}s:\n{self.output()}")

    def stats(self) -> dict[str, Any]:
        """The ``stats`` line the replica printed when it ended (commits and conflicts per execution)."""
        for line in reversed(self.log.read_text().splitlines()):
            if line.startswith("stats "):
                return dict(json.loads(line.split(" ", 1)[1]))
        raise AssertionError(f"no stats line from the replica:\n{self.output()}")

    def output(self, limit: int | None = 4000) -> str:
        text = self.log.read_text()
        return text if limit is None else text[-limit:]

    def wait(self, timeout: float = 120.0) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            if self.proc.returncode is not None:
                self._log_fh.close()

    def signal(self, sig: signal.Signals) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self._log_fh.close()


def wait_until(cond: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def report(figures: dict[str, Any], capsys: Any) -> None:
    """Print the scenario's one JSON line (even without -s) and keep it under RESULTS_DIR."""
    line = json.dumps(figures, sort_keys=False)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / f"{figures['scenario']}.json").write_text(line + "\n")
    with open(RESULTS_DIR / "results.jsonl", "a") as fh:
        fh.write(line + "\n")
    with capsys.disabled():
        print("\n" + line, flush=True)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ApiServer:
    """A real `setpoint server` process (API and controller) on a free port; ended by its own pid."""

    def __init__(self, home: Path, db: str, *, env: dict[str, str] | None = None, auth: bool = False) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = [sys.executable, "-m", "setpoint.cli.main", "--home", str(home), "--db", db]
        args += ["server", "--port", str(self.port), *([] if auth else ["--no-auth"])]
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("SETPOINT_")}
        full_env.update({"SETPOINT_RETRY_BACKOFF_S": "0.05", **(env or {})})
        self.log = home.parent / f"server-{self.port}.log"
        self._log_fh = open(self.log, "ab")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            args, cwd=REPO, env=full_env, stdin=subprocess.DEVNULL, stdout=self._log_fh, stderr=subprocess.STDOUT
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited {self.proc.returncode}:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/openapi.json", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"server not ready after {timeout}s:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # uvicorn's graceful shutdown
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._log_fh.close()
        return self.proc.returncode
