"""Application services: what the embedded client, the server and the controller all call.

Each module is one use case over the ports (store, executor, blob store, clock): registering
entities, lineage, following events and logs, firing schedules. They hold no transport.
"""
