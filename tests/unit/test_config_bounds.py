"""Every number and duration in the config has bounds, so a value that would only
overflow later (a sync window before year 1) is refused by `calsync config check`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from calsync.cli.main import cli
from calsync.config import KeyType, Section, settings_from_tables
from calsync.config.durations import format_duration
from calsync.config.schema import Key
from calsync.config.sections import ACCOUNT, CORE_SECTIONS
from calsync.daemon import bootstrap
from calsync.errors import ConfigError
from calsync.sync.calendar_pass import sync_window

NUMERIC = (KeyType.INT, KeyType.FLOAT, KeyType.DURATION)
PROVIDERS = bootstrap.provider_schemas()


def numeric_keys() -> list[tuple[str, str | None, Key]]:
    """(table, provider or None, key) for every number or duration calsync reads."""
    found: list[tuple[str, str | None, Key]] = []
    for section in CORE_SECTIONS:
        found += [(section.name, None, k) for k in section.keys if k.type in NUMERIC]
    found += [("accounts", "memory", k) for k in ACCOUNT.keys if k.type in NUMERIC]
    for name, provider_section in sorted(PROVIDERS.items()):
        found += [("accounts", name, k) for k in provider_section.keys if k.type in NUMERIC]
    return found


KEYS = numeric_keys()
IDS = [f"{table}.{provider + '.' if provider else ''}{key.name}" for table, provider, key in KEYS]


def raw_value(key: Key, number: float) -> object:
    if key.type is KeyType.DURATION:
        return format_duration(timedelta(seconds=number))
    if key.type is KeyType.INT:
        return int(number)
    return float(number)


def tables(table: str, provider: str | None, key: Key, value: object) -> dict[str, Any]:
    if provider is None:
        return {table: {key.name: value}}
    section: Section = PROVIDERS[provider]
    account: dict[str, object] = {"name": "a", "provider": provider, key.name: value}
    for required in section.keys:
        if required.required and required.name not in account:
            account[required.name] = required.example
    return {"accounts": [account]}


def test_a_window_of_a_million_days_is_refused_by_config_check(tmp_path: Path) -> None:
    config = tmp_path / "calsync.toml"
    config.write_text("[sync]\nwindow_past_days = 1000000\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(config), "config", "check"])
    assert result.exit_code == 2, result.output
    assert f"{config}:2: sync.window_past_days: 1000000 is above the maximum" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(("table", "provider", "key"), KEYS, ids=IDS)
def test_every_number_and_duration_is_bounded(table: str, provider: str | None, key: Key) -> None:
    assert key.minimum is not None, "no lower bound"
    assert key.maximum is not None, "no upper bound: a huge value would only fail later"
    path = Path("/etc/calsync/calsync.toml")
    largest = settings_from_tables(
        tables(table, provider, key, raw_value(key, key.maximum)), path, PROVIDERS
    )
    assert largest is not None
    above = key.maximum * 2 + 1
    with pytest.raises(ConfigError) as refused:
        settings_from_tables(tables(table, provider, key, raw_value(key, above)), path, PROVIDERS)
    assert refused.value.path == str(path)
    assert refused.value.key.endswith(key.name) and "maximum" in refused.value.problem


def test_the_largest_window_still_computes() -> None:
    """The bounds are tight enough for what the values become (datetimes)."""
    sync = next(s for s in CORE_SECTIONS if s.name == "sync")
    past, future = (sync.get(name) for name in ("window_past_days", "window_future_days"))
    assert past is not None and future is not None and past.maximum and future.maximum
    settings = settings_from_tables(
        {
            "sync": {
                "window_past_days": int(past.maximum),
                "window_future_days": int(future.maximum),
            }
        },
        Path("calsync.toml"),
    )
    window = sync_window(settings.sync, datetime.now(UTC))
    assert (window.end - window.start).days == past.maximum + future.maximum
