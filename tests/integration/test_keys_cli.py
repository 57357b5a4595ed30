"""`events-api keys` in-process against moto: create prints a key only once no instance can
refuse it, reindex brings in keys made by hand, revoke takes a key out of the index."""

from __future__ import annotations

import pytest

from events_api.ingest.key_index import REFRESH_SECONDS
from events_api.ingest.key_store import SsmKeyStore
from events_api.ingest.keys import KeyRecord, generate_key, is_well_formed, key_hash
from events_api_cli.commands import keys as keys_command
from events_api_cli.main import main

pytestmark = pytest.mark.integration

PATH = "/events-api/cli/keys/"


def in_index(key: str) -> bool | None:
    return SsmKeyStore(PATH).read_index().verdict(key_hash(key))


def test_create_prints_the_key_only_after_the_index_refresh_interval(
    ssm, capsys, monkeypatch
) -> None:
    waits: list[tuple[float, str, int]] = []

    def sleep(seconds: float) -> None:
        printed = capsys.readouterr().out
        waits.append((seconds, printed, len(list(SsmKeyStore(PATH).items()))))

    monkeypatch.setattr(keys_command.time, "sleep", sleep)
    assert main(["keys", "create", "--path", PATH, "--name", "ci"]) == 0
    key = capsys.readouterr().out.strip()
    assert is_well_formed(key)
    # While it waited, the key was stored, and nothing was on stdout yet.
    assert waits == [(REFRESH_SECONDS, "", 1)]
    assert in_index(key) is True


def test_reindex_brings_in_a_key_made_by_hand(ssm, capsys, monkeypatch) -> None:
    monkeypatch.setattr(keys_command.time, "sleep", lambda _: None)
    assert main(["keys", "create", "--path", PATH, "--name", "first"]) == 0
    by_hand = generate_key()
    ssm.put_parameter(
        Name=PATH + key_hash(by_hand),
        Value=KeyRecord("hand", "by hand", "2026-11-30T00:00:00Z").to_json().decode(),
        Type="SecureString",
    )
    assert in_index(by_hand) is False
    capsys.readouterr()
    assert main(["keys", "reindex", "--path", PATH]) == 0
    assert capsys.readouterr().err == "indexed 2 keys\n"
    assert in_index(by_hand) is True


def test_revoke_takes_the_key_out_of_the_index(ssm, capsys, monkeypatch) -> None:
    monkeypatch.setattr(keys_command.time, "sleep", lambda _: None)
    assert main(["keys", "create", "--path", PATH, "--name", "gone soon"]) == 0
    key = capsys.readouterr().out.strip()
    [(_, record)] = SsmKeyStore(PATH).items()
    assert main(["keys", "revoke", "--path", PATH, record.id]) == 0
    assert in_index(key) is False
    assert main(["keys", "revoke", "--path", PATH, record.id]) == 2
    assert f"no key with id {record.id}" in capsys.readouterr().err
