"""Exploring stored events without writing SQL: the query model both ``events-api query``'s
options and the console (``events-api ui``) use.

``model`` holds a query (datasets, time range, search, filters, calculations, group by,
limit) and reads it from URL parameters or command-line options; ``sql`` compiles it for
DuckDB or Athena from the one definition of the table's columns (events_api.analytics.table);
``engines`` runs SQL on either engine, read-only; ``service`` answers an explore (results,
series, events), a trace and the fields seen. Nothing deployed imports this package.
"""
