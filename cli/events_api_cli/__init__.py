"""The developer side of events-api: the ``events-api`` command and the local stack.

Imports the shared ``events_api`` package; nothing deployed imports this package (or moto).
"""
