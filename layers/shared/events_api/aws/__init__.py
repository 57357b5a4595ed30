"""AWS behind two small adapters: ``http_client`` (the ingest path's three JSON-protocol
calls, signed with SigV4, no botocore) and ``clients`` (lazily created botocore clients for
everything else), both reading credentials and region the standard way; ``session`` is the
one botocore session they share.
"""

from __future__ import annotations


def reset() -> None:
    """Forget every client, connection and the shared session (tests and the local stack
    switch endpoints and credentials)."""
    from . import clients, http_client, session

    clients.forget()
    session.forget()
    http_client.reset()
