"""A local, scriptable OpenAI-compatible HTTP server for tests and benchmarks."""

from .server import (
    Answer,
    FakeOpenAI,
    Hang,
    InvalidJSON,
    Raw,
    RecordedRequest,
    Samples,
    Status,
    answer,
    hang,
    invalid_json,
    raw,
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
    "Raw",
    "RecordedRequest",
    "Samples",
    "Status",
    "answer",
    "hang",
    "invalid_json",
    "raw",
    "samples",
    "schema_violation",
    "status",
    "tokenize",
]
