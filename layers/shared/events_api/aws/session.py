"""The one botocore session the process shares: the botocore clients' and, when the
environment holds no credentials, the credential chain of ``http_client``.

boto3 itself is never imported: the handlers need clients only, and boto3 would add its own
import and a session per call.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

import orjson

_sessions: list[Any] = []
_lock = threading.Lock()


def shared_session() -> Any:
    """The session, created on first use with the fast model loader."""
    with _lock:
        if _sessions:
            return _sessions[0]
        import botocore.session

        created = botocore.session.get_session()
        _use_fast_loader(created)
        _sessions.append(created)
    return _sessions[0]


def _use_fast_loader(session: Any) -> None:
    """Load botocore's models on the cold path with less work, same data.

    botocore parses its JSON models through an ``OrderedDict`` hook and, before loading any
    model, lists every service directory it ships (hundreds of ``stat`` calls). Here the
    models are parsed with orjson (plain dicts keep key order), and "is this service
    known?" looks at that one service's directory; the full listing is still built, once,
    whenever something asks for it.
    """
    from collections.abc import Iterator
    from functools import cached_property

    from botocore import loaders

    class FastJSONFileLoader(loaders.JSONFileLoader):
        def _load_file(self, full_path: str, open_method: Any) -> Any:
            if not os.path.isfile(full_path):
                return None
            with open_method(full_path, "rb") as handle:
                return orjson.loads(handle.read())

    class KnownServices(Sequence[str]):
        def __init__(self, loader: Any, type_name: str) -> None:
            self._loader, self._type_name = loader, type_name

        @cached_property
        def _names(self) -> list[str]:
            listing = loaders.Loader.list_available_services(self._loader, self._type_name)
            return list(listing)

        def __contains__(self, name: object) -> bool:
            if not isinstance(name, str) or not name or os.sep in name or name[0] == ".":
                return name in self._names
            for base in self._loader.search_paths:
                folder = os.path.join(base, name)
                if os.path.isdir(folder):
                    for version in os.listdir(folder):
                        path = os.path.join(folder, version, self._type_name)
                        if self._loader.file_loader.exists(path):
                            return True
            return False

        def __getitem__(self, index: Any) -> Any:
            return self._names[index]

        def __len__(self) -> int:
            return len(self._names)

        def __iter__(self) -> Iterator[str]:
            return iter(self._names)

    class FastLoader(loaders.Loader):
        def list_available_services(self, type_name: str) -> Sequence[str]:  # type: ignore[override]
            known: dict[str, KnownServices] = self.__dict__.setdefault("_known_services", {})
            if type_name not in known:
                known[type_name] = KnownServices(self, type_name)
            return known[type_name]

    # As botocore.loaders.create_loader does, with the two classes above.
    data_path = session.get_config_variable("data_path")
    extra = None
    if data_path is not None:
        extra = [os.path.expanduser(os.path.expandvars(p)) for p in data_path.split(os.pathsep)]
    loader = FastLoader(extra_search_paths=extra, file_loader=FastJSONFileLoader())
    session.register_component("data_loader", loader)


def forget() -> None:
    with _lock:
        _sessions.clear()
