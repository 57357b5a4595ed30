"""Domain code of the deployed functions (one Lambda layer), laid out by path.

- ``ingest/``: an HTTP request to records on the buffer (the ingest function): the API
  Gateway / function URL event (``http_api``), body decoding and per-event checks
  (``batch``), keys (``keys``, ``key_store``), delivery with retries (``buffer``) through
  the Kinesis and SQS adapters (``publishers``); ``service`` chains the steps.
- ``otlp/``: OTLP/HTTP logs, traces and metrics onto the same buffer (the OTLP function), reusing
  ingest's steps.
- ``store/``: buffer records to gzip NDJSON objects in S3 (the consumer function):
  ``consumer`` handles a batch in one pass, ``enrichment`` adds the stored fields,
  ``stored_objects`` names and builds the objects, ``object_writer`` puts them.
- ``analytics/``: the events table and its compaction into Parquet by Athena (the
  compactor function).
- ``aws/``: the two AWS adapters (a small SigV4 JSON client for the ingest path,
  botocore clients for the rest).

Beside them, the modules every path uses: ``settings`` (the only reader of the
environment), ``errors``, ``records`` (the buffer record format, both directions),
``timestamps``, ``observability`` and ``retry``. Each path calls down to these and to
``aws``, never up or sideways (tests/unit/test_layout.py).
"""
