"""OpenTelemetry (OTLP/HTTP) logs, traces and metrics on the events pipeline.

Only the OTLP function imports this package (it pulls in protobuf); the Events API's
ingest function never does, so its cold start and per-request cost are unchanged.
"""
