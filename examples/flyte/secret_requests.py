"""Secrets: a task asks for a credential; the value comes from the environment (or a file) at run time.

export _FSEC_WAREHOUSE_TOKEN=s3cr3t     # or SETPOINT_SECRET_WAREHOUSE_TOKEN
setpoint run examples/flyte/secret_requests.py:authenticated_query --table sales
"""

from __future__ import annotations

import hashlib

from setpoint.flytekit import Secret, current_context, task, workflow


@task(secret_requests=[Secret(group="warehouse", key="token")])
def query(table: str) -> str:
    token = current_context().secrets.get("warehouse", "token")
    # never return or print the secret itself: show a fingerprint only
    fingerprint = hashlib.sha256(token.encode()).hexdigest()[:8]
    return f"SELECT * FROM {table} (token {fingerprint})"


@workflow
def authenticated_query(table: str) -> str:
    return query(table=table)
