"""Which tables a session has written, so the unit of work can send notices at commit
(adapters/notify.py). ORM statements are seen by session events; Core statements run on the
session's connection say so themselves with touch()."""

from __future__ import annotations

from sqlalchemy.orm import Session

TOUCHED = "hookmail_touched"
READ_AHEAD = "hookmail_read_ahead"  # what a read took ahead of its caller (raw.read_ahead)


def touch(session: Session, table: str, kind: str) -> None:
    """Record a write: `kind` is "insert" or "change". What was read ahead is forgotten:
    the write may have changed it."""
    session.info.setdefault(TOUCHED, set()).add((table, kind))
    session.info.pop(READ_AHEAD, None)
