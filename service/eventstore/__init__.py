"""The event store: appends facts in commit order and reads them back. Nothing else."""

from .errors import DuplicateEvent, EventStoreError, WrongExpectedVersion
from .store import ANY, NO_STREAM, STREAM_EXISTS, EventStore, NewEvent, RecordedEvent

__all__ = [
    "ANY", "NO_STREAM", "STREAM_EXISTS", "DuplicateEvent", "EventStore", "EventStoreError",
    "NewEvent", "RecordedEvent", "WrongExpectedVersion",
]
