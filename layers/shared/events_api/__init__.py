"""Domain code shared by the ingest and consumer functions (deployed as a Lambda layer)."""
