"""The events table (one definition of its columns for Athena and DuckDB) and the hourly
compaction of closed hours into Parquet by Athena (``compactor`` is the function's work)."""
