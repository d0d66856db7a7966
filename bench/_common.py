"""Helpers shared by the sync benchmarks: peak RSS and daemon settings without the API stack."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any


def vmhwm_kib() -> int:
    """This process's peak resident set size (VmHWM), in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def bench_settings(store_url: str, account: Any) -> Any:
    """Daemon settings without the API stack (importing FastAPI would inflate peak RSS)."""
    from calsync.config import (
        ApiSettings,
        ListenAddress,
        LoggingSettings,
        NotifySettings,
        Settings,
        StoreSettings,
        SyncSettings,
    )
    from calsync.config.secrets import Secret

    return Settings(
        path=Path("/nonexistent/bench.toml"),
        store=StoreSettings(url=store_url),
        api=ApiSettings(
            listen=ListenAddress("127.0.0.1", 1),
            base_url="http://127.0.0.1:1",
            client_id="bench",
            client_secret_file=Secret("bench"),
            rate_limit_per_second=1000,
            rate_limit_per_minute=100_000,
            page_size=100,
            max_body_bytes=1_048_576,
            access_token_ttl=timedelta(seconds=3600),
        ),
        sync=SyncSettings(
            interval=timedelta(minutes=5),
            window_past_days=42,
            window_future_days=201,
            max_delete_fraction=0.5,
            rediscover_interval=timedelta(hours=1),
        ),
        notify=NotifySettings(
            allow_private_callbacks=True,
            debounce=timedelta(seconds=0),
            verification_timeout=timedelta(seconds=5),
        ),
        logging=LoggingSettings(level="warning", format="text"),
        accounts=(account,),
    )
