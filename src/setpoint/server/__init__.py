"""The API server: registration, executions and their history over REST, for teams sharing a setpoint.

`setpoint server` composes it (`setpoint.server.app.create_app`) with a controller on the embedded
store. Importing this package pulls in nothing heavy; FastAPI is imported by ``app`` only (the
``server`` extra), so ``import setpoint`` and the CLI stay light.
"""
