"""Outgoing mail (password reset): through an SMTP relay, or written to the log.

Sending happens on a background thread, so a request's timing never depends on the relay
and a relay failure never fails a request; failures are logged.
"""

from __future__ import annotations

import logging
import smtplib
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage

log = logging.getLogger("hookmail.mailer")


class LogMailer:
    def send(self, *, to: str, subject: str, body: str) -> None:
        log.info("mail to %s: %s\n%s", to, subject, body)


class SmtpMailer:
    def __init__(self, host: str, port: int, *, sender: str, timeout: float = 10.0) -> None:
        self._host = host
        self._port = port
        self._sender = sender
        self._timeout = timeout
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="hookmail-mailer")

    def send(self, *, to: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = to
        message["Subject"] = subject
        message.set_content(body)
        self._pool.submit(self._deliver, message)

    def _deliver(self, message: EmailMessage) -> None:
        try:
            with smtplib.SMTP(self._host, self._port, timeout=self._timeout) as client:
                client.send_message(message)
        except (OSError, smtplib.SMTPException):
            log.exception("could not hand mail to %s:%s", self._host, self._port)

    def flush(self) -> None:
        """Wait for every queued mail (tests and shutdown)."""
        self._pool.shutdown(wait=True)
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="hookmail-mailer")
