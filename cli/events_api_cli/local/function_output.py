"""What a function prints, locally: stdout without the metric documents when metrics are off.

Both the dev stack's own process and each function's worker process install it.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any, TextIO, cast


class DropEmf:
    """stdout without the EMF documents Powertools prints even with metrics disabled.

    ``single_metric`` prints unconditionally, and a metric reaching 100 values is printed
    whatever ``POWERTOOLS_METRICS_DISABLED`` says; ``print`` writes the document and its
    newline separately, so the newline following a dropped document is dropped too.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._local = threading.local()

    def write(self, text: str) -> int:
        if text.startswith('{"_aws"'):
            self._local.dropped = True
            return len(text)
        if text == "\n" and getattr(self._local, "dropped", False):
            self._local.dropped = False
            return len(text)
        self._local.dropped = False
        return self._stream.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def drop_emf_when_metrics_disabled() -> bool:
    """Wrap this process's stdout in ``DropEmf`` if ``POWERTOOLS_METRICS_DISABLED`` is on;
    whether it was."""
    if not _truthy(os.environ.get("POWERTOOLS_METRICS_DISABLED")):
        return False
    if not isinstance(sys.stdout, DropEmf):
        sys.stdout = cast(TextIO, DropEmf(sys.stdout))
    return True
