"""The web console (``events-api ui``): a small HTTP server in the CLI and one page.

``server`` routes requests, guards them (Host header, token) and answers each view as a
page and as JSON (``/`` and ``/explore.json``, ``/trace/{id}`` and ``/trace/{id}.json``,
``/sql`` and ``/sql.json``). ``templates/page.html`` holds the markup, ``static/`` the
script, the stylesheet and the vendored uPlot; the page builds everything from the JSON
with DOM text nodes, so event content is never HTML.
"""
