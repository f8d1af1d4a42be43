"""The event-sourcing core's own errors; psycopg's are translated into these at the adapter."""


class EventStoreError(Exception):
    """Base of every error raised by the event store."""


class ConcurrencyError(EventStoreError):
    """The stream is not at the expected version (someone else appended first); nothing was written.

    The API answers 409; a use case may reload the stream and retry in a new transaction.
    """

    def __init__(self, stream_id: str, expected_version: int, detail: str = "") -> None:
        self.stream_id = stream_id
        self.expected_version = expected_version
        super().__init__(
            f"stream {stream_id!r} is not at version {expected_version}" + (f": {detail}" if detail else "")
        )


class UnknownEventError(EventStoreError):
    """A stored event's type or schema version has no registered class or upcaster."""
