"""The API's routes, one module per resource; each module's ``routes(api)`` returns its rows.

`setpoint.server.app` lists the modules in order and mounts what they return. Route modules import
`setpoint.server.routing` (what a route is) and `setpoint.server.context` (what handlers share),
never the app, so there is no cycle to hide behind a function-level import.
"""
