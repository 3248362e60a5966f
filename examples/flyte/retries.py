"""Retries and failure handling: a flaky download is retried; a failed run calls a cleanup task.

setpoint run examples/flyte/retries.py:fetch_with_retries --marker /tmp/flaky-marker
setpoint run examples/flyte/retries.py:guarded_job --name nightly --ledger /tmp/clusters.log
"""

from __future__ import annotations

import os

from setpoint.flytekit import task, workflow


@task(retries=2)
def flaky_fetch(marker: str) -> str:
    """Fails the first time (as a network blip would), succeeds on the retry."""
    if not os.path.exists(marker):
        with open(marker, "w") as f:
            f.write("seen")
        raise ConnectionError("transient: connection reset")
    return "payload"


@workflow
def fetch_with_retries(marker: str) -> str:
    return flaky_fetch(marker=marker)


@task
def start_cluster(name: str) -> str:
    return f"cluster-{name}"


@task
def train_on(cluster: str) -> float:
    raise RuntimeError(f"out of memory on {cluster}")


@task
def tear_down(name: str, ledger: str) -> None:
    """The failure handler gets the workflow's inputs; it records what it released."""
    with open(ledger, "a") as f:
        f.write(f"tore down cluster-{name}\n")


@workflow(on_failure=tear_down)
def guarded_job(name: str, ledger: str) -> float:
    return train_on(cluster=start_cluster(name=name))
