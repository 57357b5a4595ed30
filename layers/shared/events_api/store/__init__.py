"""The store path: a batch of buffer records to gzip NDJSON objects in S3, by dataset and
hour, with partial batch failures and a quarantine for what cannot be decoded
(``consumer`` handles the batch)."""
