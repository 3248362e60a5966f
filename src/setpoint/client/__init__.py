"""Clients: what a script or the CLI holds to run and inspect executions.

`embedded.Client` runs against a local store with its own controller; `remote.RemoteClient` talks
to a `setpoint server`. Import them from their modules (or `from setpoint import Client, connect`);
this package imports nothing, so `setpoint.client.remote` does not pull in the embedded stack.
"""
