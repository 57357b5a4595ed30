"""The user commands of ``events-api`` (keys, send, tail, query, compact, redrive), one module
each with ``register(subparsers)``; they work against a deployed stack or the local one."""
