"""`gunicorn 'hookmail.entrypoints.wsgi:app'` — reads HOOKMAIL_* from the environment."""

from __future__ import annotations

import os

from dependency_injector import providers

from hookmail.entrypoints.container import Container
from hookmail.entrypoints.http.app import create_app
from hookmail.entrypoints.settings import Settings

app = create_app(Container(settings=providers.Object(Settings.from_env(os.environ))))
