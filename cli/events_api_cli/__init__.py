"""The developer side of events-api: the ``events-api`` command and the local stack.

By role: ``client`` is what applications embed (producer, logging handler, reader; light to
import), ``commands`` the user commands (keys, send, tail, query, compact, redrive), ``local``
the stack behind ``events-api dev`` (moto, the front door, the pollers, the Lambda runtime,
faults). At the top: ``main`` (the dispatcher), ``defaults`` (names the local stack and the
commands share) and the Lambda shapes both the local stack and ``redrive`` build or read
(``lambda_events``, ``failed_batches``).

Imports the shared ``events_api`` package; nothing deployed imports this package (or moto).
"""
