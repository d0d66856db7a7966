"""What the group options decided, shared with every subcommand (kept out of `main`
so command modules can import it while ``python -m calsync.cli.main`` runs)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click


@dataclass
class CliState:
    """What the group options decided, shared with every subcommand."""

    config_path: Path
    debug: bool = False
    _settings: Any = field(default=None, repr=False)

    def settings(self) -> Any:
        """The loaded `calsync.config.Settings` (loaded once; `ConfigError` when invalid)."""
        if self._settings is None:
            from calsync.daemon import bootstrap

            self._settings = bootstrap.load_settings(self.config_path)
        return self._settings

    def configure_logging(self) -> None:
        """Log to stderr at the configured level (debug with ``--debug``)."""
        from calsync.daemon.bootstrap import setup_logging

        settings = self.settings()
        level = "debug" if self.debug else settings.logging.level
        setup_logging(level, settings.logging.format)

    @property
    def show_traceback(self) -> bool:
        if self.debug:
            return True
        try:
            return bool(self._settings is not None and self._settings.logging.level == "debug")
        except AttributeError:
            return False


pass_state = click.make_pass_decorator(CliState)
