#!/usr/bin/env python3
"""Set up a virtual environment and run the demo or the test suite: the README's two commands.

    python3 scripts/dev.py demo    # install setpoint (+ scikit-learn) and run the example ML pipeline
    python3 scripts/dev.py test    # install setpoint with its test tools and run the whole suite

Only the standard library is used here, so it works on a fresh machine with Python 3.11+.
Extra arguments after `test` go to pytest (e.g. `python3 scripts/dev.py test -k reconcile`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")


def sh(*cmd: str | Path, **kw: object) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT, **kw)  # type: ignore[call-overload]


def ensure_venv(extras: str) -> None:
    if sys.version_info < (3, 11):  # noqa: UP036  (this script runs before any install: check early)
        sys.exit(f"setpoint needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    if not PY.exists():
        print(f"creating a virtual environment in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
        sh(PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    sh(PY, "-m", "pip", "install", "--quiet", "-e", f".[{extras}]")


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("demo", "test"):
        print(__doc__)
        return 2
    if argv[0] == "demo":
        ensure_venv("examples")
        home = os.environ.get("SETPOINT_HOME", str(ROOT / ".setpoint"))
        sh(BIN / "setpoint", "--home", home, "run", "examples/ml_pipeline.py:pipeline", *argv[1:])
        print(f"\nState lives in {home}. Try:\n"
              f"  {BIN / 'setpoint'} --home {home} get executions\n"
              f"  {BIN / 'setpoint'} --home {home} describe <execution id>")
        return 0
    ensure_venv("dev")
    result = subprocess.run([str(PY), "-m", "pytest", *argv[1:]], cwd=ROOT, check=False)
    return result.returncode


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except subprocess.CalledProcessError as e:
        sys.exit(e.returncode or 1)
