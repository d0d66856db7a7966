"""``calsync account remove NAME``: a dropped account's data, tokens and channels go.

An account renamed in (or dropped from) the config used to keep its rows, and
its API tokens kept reading its events. The command runs in-process over a
config file that shares the store of a real API server, and the old token is
tried over real HTTP before and after.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

from calsync.cli.main import cli
from tests.fixtures.api import ApiServer, bearer, get
from tests.integration.notify_receiver import Receiver, running_receiver

ACCOUNT = '[[accounts]]\nname = "{name}"\nprovider = "memory"\nbackend = "{name}-{tag}"\n'


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as r:
        yield r


def write_config(path: Path, store_url: str, *accounts: str) -> Path:
    tag = path.parent.name
    body = "".join(ACCOUNT.format(name=name, tag=tag) for name in accounts)
    path.write_text(f'[store]\nurl = "{store_url}"\n[logging]\nlevel = "warning"\n{body}')
    return path


def run(config: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(config), *args])


def test_remove_deletes_the_data_and_the_old_token_stops_working(
    api_server: ApiServer, http: httpx.Client, receiver: Receiver, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "calsync.toml", api_server.settings.store.url, "old", "kept")
    assert run(config, "sync", "--once").exit_code == 0
    issued = run(config, "token", "issue", "--account", "old")
    assert issued.exit_code == 0, issued.output
    token = issued.stdout.split()[-1]
    kept_token = run(config, "token", "issue", "--account", "kept").stdout.split()[-1]

    calendars = get(http, "/v1/calendars", token)
    assert calendars.status_code == 200 and calendars.json()["calendars"]
    channel = http.post(
        "/v1/channels",
        json={"callback_url": receiver.url},
        headers=bearer(token),
    )
    assert channel.status_code == 200, channel.text
    assert len(get(http, "/v1/channels", token).json()["channels"]) == 1

    # Still in the config: refused (the next sync would only create it again).
    refused = run(config, "account", "remove", "old", "--yes")
    assert refused.exit_code == 2 and "still in" in refused.output

    # Renamed away in the config: status points at the leftover and how to remove it.
    write_config(config, api_server.settings.store.url, "kept", "new")
    status = run(config, "status")
    (line,) = [row for row in status.stdout.splitlines() if row.startswith("old ")]
    assert "not in the config" in line and "calsync account remove old" in line

    removed = run(config, "account", "remove", "old", "--yes")
    assert removed.exit_code == 0, removed.output
    assert "removed account old" in removed.stdout
    assert "1 channels" in removed.stdout and "1 calendars" in removed.stdout

    # The old token no longer reads anything, over HTTP.
    assert get(http, "/v1/calendars", token).status_code == 401
    assert get(http, "/v1/events", token, params={"tzid": "Etc/UTC"}).status_code == 401
    assert get(http, "/v1/channels", token).status_code == 401
    # The other account is untouched.
    assert get(http, "/v1/calendars", kept_token).status_code == 200
    with api_server.store.read() as uow:
        assert uow.accounts.find_by_name("old") is None
        assert uow.channels.list() == []
    status = run(config, "status")
    assert not [row for row in status.stdout.splitlines() if row.startswith("old ")]

    again = run(config, "account", "remove", "old", "--yes")
    assert again.exit_code == 1 and "no account named 'old'" in again.output


def test_remove_asks_before_deleting(api_server: ApiServer, tmp_path: Path) -> None:
    config = write_config(tmp_path / "calsync.toml", api_server.settings.store.url, "gone")
    assert run(config, "sync", "--once").exit_code == 0
    write_config(config, api_server.settings.store.url)
    answer_no = CliRunner().invoke(
        cli, ["--config", str(config), "account", "remove", "gone"], input="n\n"
    )
    assert answer_no.exit_code == 1  # aborted
    with api_server.store.read() as uow:
        assert uow.accounts.find_by_name("gone") is not None
    answer_yes = CliRunner().invoke(
        cli, ["--config", str(config), "account", "remove", "gone"], input="y\n"
    )
    assert answer_yes.exit_code == 0, answer_yes.output
    with api_server.store.read() as uow:
        assert uow.accounts.find_by_name("gone") is None
