"""Typed failures of an append, so callers can answer a lost race precisely."""

from __future__ import annotations


class EventStoreError(Exception):
    pass


class WrongExpectedVersion(EventStoreError):
    """The stream moved on since the caller read it; carries the version that won."""

    def __init__(self, stream_id: str, expected: object, actual: int):
        super().__init__(f"stream {stream_id}: expected version {expected}, actual {actual}")
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual


class DuplicateEvent(EventStoreError):
    """An event id was appended before: a retry that must not be recorded twice."""
