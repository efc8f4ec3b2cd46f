"""The `hookmail` command: serve, api, smtp, deliver, migrate."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from typing import Any

from dependency_injector import providers
from gunicorn.app.base import BaseApplication

from hookmail import __version__
from hookmail.adapters.sql.engine import migrate
from hookmail.entrypoints.container import Container
from hookmail.entrypoints.memory import release_big_buffers
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


def _container(settings: Settings) -> Container:
    return Container(settings=providers.Object(settings))


def _migrate(settings: Settings) -> None:
    container = _container(settings)
    migrate(container.engine())
    container.engine().dispose()


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handle(signum: int, _frame: object) -> None:
        log.info("signal %s: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    return stop


def _run_api(settings: Settings, workers: int) -> None:
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


def _run_smtp(settings: Settings) -> None:
    from hookmail.entrypoints.smtp.server import smtp_controller

    release_big_buffers()
    stop = _stop_on_signals()
    # aiosmtpd logs every command at INFO: a line per sender and recipient costs more CPU
    # than routing it. Our metrics and delivery logs say what happened to each message.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    controller = smtp_controller(_container(settings))
    controller.start()
    log.info("SMTP on %s:%s", settings.smtp_host, settings.smtp_port)
    stop.wait()
    controller.stop()
    controller.handler.close()


def _run_deliver(settings: Settings) -> None:
    from hookmail.adapters.notify import JOBS
    from hookmail.entrypoints.deliver import DeliveryWorker
    from hookmail.entrypoints.sweeper import Sweeper

    release_big_buffers()
    stop = _stop_on_signals()
    container = _container(settings)
    sweeper = Sweeper(
        container.uow,
        container.clock(),
        container.retention(),
        interval=settings.sweep_interval,
        # SQLite: room for the SMTP worker's commits between batches (entrypoints/sweeper.py)
        pause=0.05 if settings.database_url.startswith("sqlite") else 0.01,
    )
    worker = DeliveryWorker(
        container.uow,
        container.clock(),
        container.transport(),
        container.delivery_config(),
        listener=container.notifier().listen(JOBS),
        health=container.health(),
        sweeper=sweeper,
    )
    log.info("delivery worker started")
    worker.run(stop)


def _serve(settings: Settings) -> None:
    """Migrate, then API (gunicorn), SMTP worker and delivery worker as separate processes,
    so accepting and delivering never compete for one interpreter."""
    _migrate(settings)
    env = dict(os.environ)
    env.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="hookmail-metrics-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = env["PROMETHEUS_MULTIPROC_DIR"]
    command = [sys.executable, "-m", "hookmail.entrypoints.cli"]
    children = [
        subprocess.Popen([*command, "smtp"], env=env),  # noqa: S603 (our own interpreter)
        subprocess.Popen([*command, "deliver"], env=env),  # noqa: S603
    ]
    print(f"hookmail {__version__}:", file=sys.stderr)
    print(f"  API   http://{settings.api_host}:{settings.api_port}/api/v1", file=sys.stderr)
    print(f"  web   http://{settings.api_host}:{settings.api_port}/", file=sys.stderr)
    print(f"  SMTP  {settings.smtp_host}:{settings.smtp_port}", file=sys.stderr)
    print(f"  store {settings.database_url}", file=sys.stderr)
    stopping = threading.Event()
    threading.Thread(target=_watch, args=(children, stopping), daemon=True).start()
    try:
        _run_api(settings, settings.api_workers)
    finally:
        stopping.set()
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=settings.delivery_timeout + 20)
            except subprocess.TimeoutExpired:
                child.kill()


def _watch(children: list[subprocess.Popen[bytes]], stopping: threading.Event) -> None:
    """If the SMTP or delivery worker dies on its own, stop everything: a half-running
    service that accepts no mail, or delivers none, must not look healthy."""
    while not stopping.wait(0.5):
        for child in children:
            if child.poll() is not None and not stopping.is_set():
                log.error("%s exited with status %s; stopping", child.args, child.returncode)
                os.kill(os.getpid(), signal.SIGTERM)
                return


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="hookmail", description=__doc__)
    parser.add_argument("--version", action="version", version=f"hookmail {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="migrate, then run API, SMTP and delivery together")
    api = commands.add_parser("api", help="run the REST API under gunicorn")
    api.add_argument("--workers", type=int, default=None, help="gunicorn workers")
    commands.add_parser("smtp", help="run the SMTP worker")
    commands.add_parser("deliver", help="run the delivery worker")
    commands.add_parser("migrate", help="bring the store's schema up to date")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = _settings()
    if args.command == "migrate":
        _migrate(settings)
        print("hookmail: schema is up to date")
    elif args.command == "api":
        _run_api(settings, args.workers or settings.api_workers)
    elif args.command == "smtp":
        _run_smtp(settings)
    elif args.command == "deliver":
        _run_deliver(settings)
    elif args.command == "serve":
        _serve(settings)


if __name__ == "__main__":
    main()
