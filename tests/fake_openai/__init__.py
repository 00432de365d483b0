"""A local, scriptable OpenAI-compatible HTTP server for tests and benchmarks."""

from .server import (
    Answer,
    FakeOpenAI,
    Hang,
    InvalidJSON,
    RecordedRequest,
    Samples,
    Status,
    answer,
    hang,
    invalid_json,
    samples,
    schema_violation,
    status,
    tokenize,
)

__all__ = [
    "Answer",
    "FakeOpenAI",
    "Hang",
    "InvalidJSON",
    "RecordedRequest",
    "Samples",
    "Status",
    "answer",
    "hang",
    "invalid_json",
    "samples",
    "schema_violation",
    "status",
    "tokenize",
]
