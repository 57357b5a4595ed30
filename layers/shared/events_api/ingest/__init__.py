"""The ingest path: a payload 2.0 request (HTTP API or function URL) to confirmed records on
the buffer, in the contract's order of checks (``service`` chains the steps)."""
