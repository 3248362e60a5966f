#!/usr/bin/env python3
"""Set up a virtual environment, run the demo, the gates and the test suite: the README's commands.

    python3 scripts/dev.py demo          # install setpoint (+ scikit-learn) and run the example ML pipeline
    python3 scripts/dev.py test          # the gates, then the whole suite (what CI runs)
    python3 scripts/dev.py test --fast   # the gates, then the fast tier (no slow, fault or Ray tests)
    python3 scripts/dev.py check         # the gates only
    python3 scripts/dev.py console-check # rebuild the web console and compare with the shipped assets

The gates run in this order and each must pass: `ruff check src tests`, `mypy` (strict, on src and
tests: the files named in pyproject.toml), `lint-imports` (the layer contracts), then the console
check: the web console's shipped assets (src/setpoint/server/console_dist) must be exactly what
`npm ci && npm run build` makes of the committed sources in console/. That check needs Node.js:
without it, it is skipped with a note, except under CI=true, where it fails. If one fails the
suite does not start. `--no-gates` skips them for a quick local loop (CI never passes it).

Extra arguments after `test` go to pytest (e.g. `python3 scripts/dev.py test --fast -k reconcile`).
A pytest run that executes no test (exit 5) is a failure here, so a typo in a selection or a
broken collection can never pass as green.

Only the standard library is used here, so it works on a fresh machine with Python 3.11+.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")

# In order: the cheapest first, so a lint slip is reported in a second, not after mypy's minute.
GATES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ruff", ("ruff", "check", "src", "tests")),
    ("mypy", ("mypy",)),  # strict; `files` in pyproject.toml names src/setpoint and tests
    ("import-linter", ("lint-imports",)),
)

# The fast tier leaves out what needs minutes or a cluster: tests marked `slow` (CLI end-to-end
# runs with controller restarts, the examples), the fault-injection campaigns (tests/faults) and
# the real two-node Ray cluster (tests/ray, marked `ray`). The README says what each tier takes.
FAST_TIER: tuple[str, ...] = ("-m", "not slow and not ray", "--ignore=tests/faults", "--ignore=tests/ray")

PYTEST_NO_TESTS = 5  # pytest's exit code when it collected or selected nothing


def sh(*cmd: str | Path, cwd: Path = ROOT) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, cwd=cwd)


def ensure_venv(extras: str) -> None:
    if sys.version_info < (3, 11):  # noqa: UP036  (this script runs before any install: check early)
        sys.exit(f"setpoint needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    if not PY.exists():
        print(f"creating a virtual environment in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
        sh(PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    install(f".[{extras}]")


def install(requirement: str) -> None:
    """Install ``requirement`` (editable) into .venv: with uv when it can (seconds instead of
    minutes: it downloads in parallel), else with pip. SETPOINT_NO_UV=1 forces pip."""
    uv = BIN / ("uv.exe" if os.name == "nt" else "uv")
    if os.environ.get("SETPOINT_NO_UV") != "1":
        if not uv.exists():
            subprocess.run([str(PY), "-m", "pip", "install", "--quiet", "uv>=0.4"], cwd=ROOT, check=False)
        if uv.exists():
            cmd = [str(uv), "pip", "install", "--quiet", "--native-tls", "--python", str(PY), "-e", requirement]
            print("+", " ".join(cmd), flush=True)
            if subprocess.run(cmd, cwd=ROOT, check=False).returncode == 0:
                return
            print("uv could not install the requirements; trying pip", flush=True)
    sh(PY, "-m", "pip", "install", "--quiet", "-e", requirement)


CONSOLE = ROOT / "console"
CONSOLE_DIST = "src/setpoint/server/console_dist"


def console_check() -> int:
    """Build the console from its committed sources and fail if the shipped assets differ."""
    if not (CONSOLE / "package.json").exists():
        print("console check: no console/ sources, nothing to compare", flush=True)
        return 0
    npm = shutil.which("npm")
    if npm is None:
        if os.environ.get("CI") == "true":
            print("console check: npm is not installed (needed under CI=true)", file=sys.stderr, flush=True)
            return 1
        print("console check: skipped, Node.js/npm not installed (the shipped assets are used as they are)")
        return 0
    try:
        sh(npm, "ci", "--no-audit", "--no-fund", "--loglevel=error", cwd=CONSOLE)
        sh(npm, "run", "--silent", "build", cwd=CONSOLE)
    except subprocess.CalledProcessError as e:
        print(f"console check: the build failed (exit {e.returncode})", file=sys.stderr, flush=True)
        return 1
    changed = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all", "--", CONSOLE_DIST],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout.strip()
    if changed:
        print("console check: the shipped assets are not the build of the committed sources; "
              f"rebuild (cd console && npm run build) and commit {CONSOLE_DIST}:\n{changed}",
              file=sys.stderr, flush=True)
        return 1
    print("console check: the shipped assets are the build of the committed sources", flush=True)
    return 0


def run_gates() -> bool:
    """Run every gate in order; True when all passed. All run, so one report lists every failure."""
    failed = []
    for name, (tool, *args) in GATES:
        started = time.monotonic()
        print(f"+ {tool} {' '.join(args)}".rstrip(), flush=True)
        code = subprocess.run([str(BIN / tool), *args], cwd=ROOT, check=False).returncode
        print(f"gate {name}: {'passed' if code == 0 else f'FAILED (exit {code})'} "
              f"in {time.monotonic() - started:.0f}s", flush=True)
        if code != 0:
            failed.append(name)
    if console_check() != 0:
        failed.append("console")
    if failed:
        print(f"gates failed: {', '.join(failed)}; the test suite was not run", file=sys.stderr, flush=True)
    return not failed


def run_suite(pytest_args: list[str], *, fast: bool) -> int:
    cmd = [str(PY), "-m", "pytest", *(FAST_TIER if fast else ()), *pytest_args]
    print("+", " ".join(cmd[1:]), flush=True)
    # Nothing is printed after pytest's own closing line ("N passed ..."): CI reads that line.
    code = subprocess.run(cmd, cwd=ROOT, check=False).returncode
    if code == PYTEST_NO_TESTS:
        print("pytest ran no test (exit 5): that is a failure, not a pass", file=sys.stderr, flush=True)
    return code


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("demo", "test", "check", "console-check"):
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    if command == "console-check":
        return console_check()
    if command == "demo":
        ensure_venv("examples")
        home = os.environ.get("SETPOINT_HOME", str(ROOT / ".setpoint"))
        sh(BIN / "setpoint", "--home", home, "run", "examples/ml_pipeline.py:pipeline", *rest)
        print(f"\nState lives in {home}. Try:\n"
              f"  {BIN / 'setpoint'} --home {home} get executions\n"
              f"  {BIN / 'setpoint'} --home {home} describe <execution id>")
        return 0
    ensure_venv("dev")
    if command == "check":
        return 0 if run_gates() else 1
    fast = "--fast" in rest
    gates = "--no-gates" not in rest
    pytest_args = [a for a in rest if a not in ("--fast", "--no-gates")]
    if gates and not run_gates():
        return 1
    return run_suite(pytest_args, fast=fast)


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except subprocess.CalledProcessError as e:
        sys.exit(e.returncode or 1)
