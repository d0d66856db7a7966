"""Helpers shared by the sync benchmarks: peak RSS and daemon settings without the API stack."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def vmhwm_kib() -> int:
    """This process's peak resident set size (VmHWM), in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def bench_settings(store_url: str, account: Any) -> Any:
    """Daemon settings without the API stack (importing FastAPI would inflate peak RSS):
    the schema's defaults, plus the one account and an API client."""
    from dataclasses import replace

    from calsync.config import settings_from_tables
    from calsync.config.secrets import Secret

    settings = settings_from_tables(
        {
            "api": {"listen": "127.0.0.1:1"},
            "notify": {"allow_private_callbacks": True, "debounce": "0s"},
            "logging": {"level": "warning"},
        },
        Path("/nonexistent/bench.toml"),
    )
    api = replace(settings.api, client_id="bench", client_secret_file=Secret("bench"))
    store = replace(settings.store, url=store_url)
    return replace(settings, store=store, api=api, accounts=(account,))
