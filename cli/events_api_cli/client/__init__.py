"""The client library applications embed: post events (``EventsClient``), ship Python logging
records (``EventsHandler``), read stored events back (``reader.EventReader``).

Light to import on purpose (an application pays for it at start-up): the standard library,
orjson and msgspec, never moto, Powertools or botocore (tests/unit/test_light_imports.py).
"""

from .log_handler import EventsHandler
from .producer import EventsClient

__all__ = ["EventsClient", "EventsHandler"]
