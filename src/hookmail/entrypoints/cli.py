"""The `hookmail` command: serve, api, migrate (and the workers as they arrive)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from dependency_injector import providers
from gunicorn.app.base import BaseApplication

from hookmail import __version__
from hookmail.adapters.sql.engine import migrate
from hookmail.entrypoints.container import Container
from hookmail.entrypoints.settings import Settings, SettingsError

log = logging.getLogger("hookmail")


class _Gunicorn(BaseApplication):  # type: ignore[misc]  # gunicorn ships no types
    """gunicorn, configured in code, loading the app in each worker after fork."""

    def __init__(self, options: dict[str, Any]) -> None:
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from hookmail.entrypoints.wsgi import app

        return app


def _settings() -> Settings:
    try:
        return Settings.from_env(os.environ)
    except SettingsError as exc:
        print(f"hookmail: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _migrate(settings: Settings) -> None:
    container = Container(settings=providers.Object(settings))
    migrate(container.engine())
    container.engine().dispose()


def _run_api(settings: Settings, workers: int) -> None:
    print(f"hookmail {__version__}: API on http://{settings.api_host}:{settings.api_port}")
    _Gunicorn(
        {
            "bind": f"{settings.api_host}:{settings.api_port}",
            "workers": workers,
            "accesslog": "-",
            "timeout": 60,
            "graceful_timeout": 20,
            "control_socket_disable": True,  # several instances may share a machine
        }
    ).run()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="hookmail", description=__doc__)
    parser.add_argument("--version", action="version", version=f"hookmail {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="migrate, then run everything on this machine")
    api = commands.add_parser("api", help="run the REST API under gunicorn")
    api.add_argument("--workers", type=int, default=None, help="gunicorn workers")
    commands.add_parser("migrate", help="bring the store's schema up to date")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = _settings()
    if args.command == "migrate":
        _migrate(settings)
        print("hookmail: schema is up to date")
    elif args.command == "api":
        _run_api(settings, args.workers or settings.api_workers)
    elif args.command == "serve":
        _migrate(settings)
        _run_api(settings, settings.api_workers)


if __name__ == "__main__":
    main()
