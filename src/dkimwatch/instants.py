"""Instants as dkimwatch reads and writes them: ISO 8601, always UTC, ``Z`` for the zone.

A leaf: it imports nothing of dkimwatch, so every module may import it.
"""

from __future__ import annotations

from datetime import UTC, datetime


def iso_instant(instant: datetime, timespec: str = "seconds") -> str:
    """``2026-04-10T10:00:00Z``; ``timespec`` as for ``datetime.isoformat`` ("auto" keeps the
    microseconds when there are any)."""
    return instant.astimezone(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


def parse_instant(text: str) -> datetime:
    """An ISO 8601 instant as an aware UTC datetime; one with no offset is taken as UTC
    (Exchange Online stores UTC, and so does --now)."""
    value = datetime.fromisoformat(text.strip())
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
