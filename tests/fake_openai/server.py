"""A scriptable OpenAI-compatible HTTP server on 127.0.0.1, for tests and benchmarks.

It speaks real HTTP, so the official `openai` client is exercised end to end (serialisation,
status-code mapping, timeouts, headers). Each request to POST /v1/chat/completions consumes the next
scripted behaviour; when the script is empty the server's `default` behaviour answers.

    with FakeOpenAI() as fake:
        fake.script(status(429, retry_after=1), answer({"total": "12.50"}, logprobs=-0.1))
        client = openai.OpenAI(base_url=fake.base_url, api_key="x")
        ...
        fake.requests[0].body["messages"]

Behaviours: `answer(fields, logprobs=..., reasoning=..., stated_confidence=...)`, `invalid_json()`,
`schema_violation(fields)`, `samples(answer(...), answer(...))` (one per choice when the request asks
for several with `n`), `status(code, retry_after=...)`, `raw(body)`, `hang(seconds)`, or a callable
that receives the `RecordedRequest` and returns one of these (or a dict of fields: `answer(dict)`).
`latency` delays every answer without blocking other requests (one thread per connection).
No pytest imports here: bench scripts use it too.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN_PATTERN = re.compile(r"\w+|\s+|[^\w\s]")


def tokenize(text: str) -> list[str]:
    """Split text into small tokens (word runs, whitespace runs, single symbols); they concatenate back."""
    return TOKEN_PATTERN.findall(text)


# Behaviours ----------------------------------------------------------------------------------------


@dataclass
class Answer:
    """A 200 answer whose content is the JSON of `fields` (plus reasoning / stated_confidence if given).

    `logprobs`: None -> the response carries no logprobs (a server without support); a float -> every
    content token gets that logprob; a dict -> tokens inside a field's value get that field's logprob,
    all other tokens (and fields not named) get 0.0. `content` replaces the generated JSON verbatim.
    """

    fields: dict[str, Any]
    logprobs: float | dict[str, float] | None = None
    reasoning: str | None = None
    stated_confidence: dict[str, float] | None = None
    content: str | None = None
    usage: tuple[int, int] | None = None  # (prompt_tokens, completion_tokens) override
    finish_reason: str = "stop"

    def render(self) -> tuple[str, list[tuple[str, float]]]:
        """The content string and its tokens with their logprobs."""
        if self.content is not None:
            lp = self.logprobs if isinstance(self.logprobs, float | int) else 0.0
            return self.content, [(t, float(lp)) for t in tokenize(self.content)]
        default = float(self.logprobs) if isinstance(self.logprobs, float | int) else 0.0
        per_field = self.logprobs if isinstance(self.logprobs, dict) else {}
        pieces: list[tuple[str, float]] = []

        def add(text: str, lp: float) -> None:
            pieces.extend((token, lp) for token in tokenize(text))

        body = dict(self.fields)
        if self.reasoning is not None:
            body["reasoning"] = self.reasoning
        if self.stated_confidence is not None:
            body["stated_confidence"] = self.stated_confidence
        add("{", default)
        for i, (key, value) in enumerate(body.items()):
            if i:
                add(", ", default)
            add(json.dumps(key) + ": ", default)
            lp = float(per_field.get(key, default)) if key in self.fields else default
            encoded = json.dumps(value)
            if isinstance(value, str):
                add('"', default)
                add(encoded[1:-1], lp)
                add('"', default)
            else:
                add(encoded, lp)
        add("}", default)
        return "".join(t for t, _ in pieces), pieces


@dataclass
class InvalidJSON:
    content: str = '{"invoice_number": "INV-1", '  # truncated: not parseable
    usage: tuple[int, int] | None = None


@dataclass
class Samples:
    """Several different choices for one request (choice i uses answers[i % len(answers)])."""

    answers: tuple[Answer | InvalidJSON, ...]


@dataclass
class Status:
    code: int
    retry_after: float | None = None
    message: str = ""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Raw:
    """Any status and body, verbatim (a proxy's HTML error page, truncated JSON, ...)."""

    body: str
    code: int = 200
    content_type: str = "text/html"


@dataclass
class Hang:
    """Accept the request, send nothing for `seconds`, then close the connection."""

    seconds: float


Behaviour = Answer | InvalidJSON | Samples | Status | Raw | Hang
Hook = Callable[["RecordedRequest"], "Behaviour | dict[str, Any]"]


def answer(
    fields: dict[str, Any],
    *,
    logprobs: float | dict[str, float] | None = None,
    reasoning: str | None = None,
    stated_confidence: dict[str, float] | None = None,
    usage: tuple[int, int] | None = None,
) -> Answer:
    return Answer(
        dict(fields), logprobs=logprobs, reasoning=reasoning, stated_confidence=stated_confidence, usage=usage
    )


def invalid_json(content: str | None = None, *, usage: tuple[int, int] | None = None) -> InvalidJSON:
    return InvalidJSON(usage=usage) if content is None else InvalidJSON(content, usage=usage)


def schema_violation(fields: dict[str, Any], **kwargs: Any) -> Answer:
    """Well-formed JSON whose values break the requested schema (e.g. a date of "yesterday")."""
    return answer(fields, **kwargs)


def samples(*answers: Answer | InvalidJSON) -> Samples:
    return Samples(tuple(answers))


def status(code: int, *, retry_after: float | None = None, message: str = "") -> Status:
    return Status(code, retry_after=retry_after, message=message)


def raw(body: str, *, code: int = 200, content_type: str = "text/html") -> Raw:
    return Raw(body, code, content_type)


def hang(seconds: float) -> Hang:
    return Hang(seconds)


# Server --------------------------------------------------------------------------------------------


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: Any

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list((self.body or {}).get("messages", []))

    @property
    def user_text(self) -> str:
        """The content of the first user message (where providers put the document)."""
        return next((m.get("content") or "" for m in self.messages if m.get("role") == "user"), "")


class FakeOpenAI:
    """Start with `with FakeOpenAI() as fake:` or `fake.start()` / `fake.stop()`."""

    def __init__(
        self,
        *,
        default: Behaviour | Hook | None = None,
        latency: float = 0.0,
        honour_n: bool = True,
        models: tuple[str, ...] = ("fake-model",),
    ) -> None:
        self.default: Behaviour | Hook = default or answer({}, logprobs=None)
        self.latency = latency
        self.honour_n = honour_n
        self.models = models
        self.requests: list[RecordedRequest] = []
        self._script: deque[Behaviour | Hook] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._ids = itertools.count(1)

    # lifecycle
    def start(self) -> FakeOpenAI:
        self._stopping.clear()
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = _Server(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-openai", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes hanging handlers
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # scripting
    def script(self, *behaviours: Behaviour | Hook) -> None:
        """Queue behaviours; each chat request consumes one, in order."""
        with self._lock:
            self._script.extend(behaviours)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _next_behaviour(self, request: RecordedRequest) -> Behaviour:
        with self._lock:
            behaviour = self._script.popleft() if self._script else self.default
        if callable(behaviour):
            behaviour = behaviour(request)
        if isinstance(behaviour, dict):
            behaviour = answer(behaviour)
        return behaviour

    # responses
    def completion(
        self, request: RecordedRequest, behaviour: Answer | InvalidJSON | Samples
    ) -> dict[str, Any]:
        body = request.body or {}
        n = int(body.get("n") or 1) if self.honour_n else 1
        want_logprobs = bool(body.get("logprobs"))
        top_n = int(body.get("top_logprobs") or 0)
        if isinstance(behaviour, Samples):
            per_choice = [behaviour.answers[i % len(behaviour.answers)] for i in range(n)]
        else:
            per_choice = [behaviour] * n
        choices, completion_tokens, usage_override = [], 0, None
        for index, item in enumerate(per_choice):
            if isinstance(item, InvalidJSON):
                content, tokens = item.content, [(t, 0.0) for t in tokenize(item.content)]
                has_logprobs, finish = False, "stop"
            else:
                content, tokens = item.render()
                has_logprobs, finish = item.logprobs is not None, item.finish_reason
            usage_override = usage_override or item.usage
            completion_tokens += len(tokens)
            logprobs = None
            if want_logprobs and has_logprobs:
                logprobs = {
                    "content": [_token_logprob(token, lp, top_n) for token, lp in tokens],
                    "refusal": None,
                }
            choices.append(
                {
                    "index": index,
                    "message": {"role": "assistant", "content": content, "refusal": None, "annotations": []},
                    "logprobs": logprobs,
                    "finish_reason": finish,
                }
            )
        prompt_tokens = sum(len(tokenize(str(m.get("content") or ""))) for m in request.messages)
        if usage_override:
            prompt_tokens, completion_tokens = usage_override
        return {
            "id": f"chatcmpl-fake{next(self._ids):06d}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model") or self.models[0],
            "system_fingerprint": "fp_fake",
            "choices": choices,
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }


def _token_logprob(token: str, logprob: float, top_n: int) -> dict[str, Any]:
    raw = list(token.encode("utf-8"))
    top = [{"token": token, "logprob": logprob, "bytes": raw}] if top_n else []
    return {"token": token, "logprob": logprob, "bytes": raw, "top_logprobs": top}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # keep-alive connections must not hold up stop()
    request_queue_size = 512  # benchmarks open many connections at once


class _Handler(BaseHTTPRequestHandler):
    fake: FakeOpenAI
    protocol_version = "HTTP/1.1"
    # Headers and body go out as separate writes: without TCP_NODELAY, Nagle's algorithm and the
    # client's delayed ACK add ~40 ms to every answer, which no real server does.
    disable_nagle_algorithm = True
    timeout = 60  # idle keep-alive connections give their thread back eventually

    def log_message(self, format: str, *args: Any) -> None:  # silence stderr logging
        pass

    def _read_body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return raw.decode("utf-8", "replace")

    def _record(self) -> RecordedRequest:
        request = RecordedRequest(
            method=self.command,
            path=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=self._read_body(),
        )
        self.fake._record(request)
        return request

    def _send_json(self, code: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send(code, json.dumps(payload).encode("utf-8"), "application/json", headers)

    def _send(self, code: int, data: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-request-id", f"req_{uuid.uuid4().hex[:16]}")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (timeout); nothing to do

    def _error(self, code: int, message: str, headers: dict[str, str] | None = None) -> None:
        kind = {400: "invalid_request_error", 401: "authentication_error", 429: "rate_limit_error"}
        payload = {
            "error": {
                "message": message or f"fake error {code}",
                "type": kind.get(code, "server_error" if code >= 500 else "invalid_request_error"),
                "param": None,
                "code": None,
            }
        }
        self._send_json(code, payload, headers)

    def do_GET(self) -> None:
        self._record()
        if self.path.rstrip("/").endswith("/v1/models"):
            created = int(time.time())
            data = [
                {"id": m, "object": "model", "created": created, "owned_by": "fake"} for m in self.fake.models
            ]
            self._send_json(200, {"object": "list", "data": data})
        else:
            self._error(404, f"no route GET {self.path}")

    def do_POST(self) -> None:
        request = self._record()
        if not self.path.rstrip("/").endswith("/v1/chat/completions"):
            self._error(404, f"no route POST {self.path}")
            return
        if not isinstance(request.body, dict):
            self._error(400, "body must be a JSON object")
            return
        behaviour = self.fake._next_behaviour(request)
        if isinstance(behaviour, Hang):
            self.fake._stopping.wait(behaviour.seconds)
            self.close_connection = True
            return
        if isinstance(behaviour, Status):
            headers = dict(behaviour.headers)
            if behaviour.retry_after is not None:
                headers["Retry-After"] = f"{behaviour.retry_after:g}"
            self._error(behaviour.code, behaviour.message, headers)
            return
        if isinstance(behaviour, Raw):
            self._send(behaviour.code, behaviour.body.encode("utf-8"), behaviour.content_type)
            return
        if self.fake.latency:
            self.fake._stopping.wait(self.fake.latency)
        self._send_json(200, self.fake.completion(request, behaviour))
