"""A loopback OpenAI-compatible chat-completions server for tests and benchmarks.

It listens on 127.0.0.1 on a random port, records every request (in memory and, when asked,
as JSONL) and answers through a scriptable *responder*: a callable taking the request JSON and
returning a :class:`Reply` (status, headers, body, delay). Helpers below build the replies a
judge test needs: valid answers, each parse-error kind, 429 with Retry-After, 500, a hang past
the client timeout, fixed latency.

    with FakeOpenAIServer(answer_rating(4)) as server:
        lm = dspy.LM("openai/fake", api_base=server.api_base, api_key="x", engine="litellm")

Responders may depend on the request (e.g. on the instruction text, see :func:`request_text`),
so optimizer and flow tests can script answers that reward one prompt over another.
Run ``python -m tests.fakes.openai_server --latency 0.2 [--port P]`` to serve standalone, e.g.
as a separate process for a benchmark: its first stdout line names the api_base, ``GET
{api_base}/stats`` returns ``{"calls", "max_in_flight", "in_flight"}`` and ``POST
{api_base}/stats/reset`` starts a new ``max_in_flight`` measurement.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

DEFAULT_MODEL = "fake-judge"


@dataclass(frozen=True)
class Reply:
    """What the server sends back for one request."""

    status: int = 200
    body: dict[str, Any] | str | bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (a slow endpoint, or a hang)


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    json: dict[str, Any] | None
    received_at: float  # time.monotonic() on arrival
    replied_status: int | None = None

    @property
    def text(self) -> str:
        return request_text(self.json or {})


Responder = Callable[[dict[str, Any]], Reply]


def request_text(request: dict[str, Any]) -> str:
    """All message contents of a chat request, joined: what a responder usually inspects."""
    parts = []
    for message in request.get("messages") or []:
        content = message.get("content")
        if isinstance(content, list):
            parts.extend(str(p.get("text", "")) for p in content if isinstance(p, dict))
        elif content is not None:
            parts.append(str(content))
    return "\n".join(parts)


def completion_body(
    content: str,
    *,
    model: str = DEFAULT_MODEL,
    finish_reason: str = "stop",
    prompt_tokens: int = 50,
    completion_tokens: int | None = None,
) -> dict[str, Any]:
    """An OpenAI chat.completion object whose single choice says ``content``."""
    completion_tokens = completion_tokens if completion_tokens is not None else max(1, len(content) // 4)
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def error_body(message: str, kind: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "code": code}}


# ---- replies ------------------------------------------------------------------------------

def judge_json(rating: Any, explanation: str = "The document answers the query.") -> str:
    """The JSON text of a judge answer (rating may be any value, to script bad ones)."""
    return json.dumps({"rating": rating, "explanation": explanation})


def answer(content: str, **body_options: Any) -> Reply:
    """A 200 reply whose assistant message is ``content``."""
    return Reply(200, completion_body(content, **body_options))


def valid_answer(rating: int, explanation: str = "The document answers the query.") -> Reply:
    return answer(judge_json(rating, explanation))


# One reply per parse-error kind of the strict contract (judge.types.PARSE_ERROR_KINDS).
PARSE_ERROR_CONTENT: dict[str, tuple[str, str]] = {
    "no_json": ("I think this document is quite relevant to the query.", "stop"),
    "missing_field": (json.dumps({"explanation": "No rating given."}), "stop"),
    "wrong_type": (json.dumps({"rating": "high", "explanation": "Rated in words."}), "stop"),
    "out_of_range": (judge_json(7, "Off the scale."), "stop"),
    "truncated_output": ('{"rating": 4, "explanation": "The document discusses the topic in', "length"),
}


def parse_error_answer(kind: str) -> Reply:
    """A 200 reply that breaks the output contract in the way named by ``kind``."""
    content, finish_reason = PARSE_ERROR_CONTENT[kind]
    return answer(content, finish_reason=finish_reason)


def rate_limited(retry_after: float | None = 1.0) -> Reply:
    headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
    return Reply(429, error_body("Rate limit reached; slow down.", "rate_limit_error", "rate_limit_exceeded"), headers)


def server_error(status: int = 500) -> Reply:
    return Reply(status, error_body("The server had an error while processing your request.", "server_error"))


def hang(seconds: float = 30.0) -> Reply:
    """Answer only after ``seconds``: past any sensible client timeout."""
    return Reply(200, completion_body(judge_json(3)), delay=seconds)


# ---- responders ---------------------------------------------------------------------------

def always(reply: Reply) -> Responder:
    return lambda _request: reply


def sequence(replies: Iterable[Reply], *, then: Reply | None = None) -> Responder:
    """Reply with each of ``replies`` in order (across all requests), then ``then`` forever.

    Without ``then`` the last reply repeats.
    """
    items = list(replies)
    if not items:
        raise ValueError("sequence() needs at least one reply")
    tail = then or items[-1]
    it = iter(items)
    lock = threading.Lock()

    def respond(_request: dict[str, Any]) -> Reply:
        with lock:
            return next(it, tail)

    return respond


def per_prompt(script: Callable[[str, int], Reply]) -> Responder:
    """Reply by (request text, how many times this exact text was seen before).

    Lets a test fail an example's first attempts and answer its retry, whatever the order
    in which concurrent workers send their requests.
    """
    counts: dict[str, int] = {}
    lock = threading.Lock()

    def respond(request: dict[str, Any]) -> Reply:
        text = request_text(request)
        with lock:
            seen = counts.get(text, 0)
            counts[text] = seen + 1
        return script(text, seen)

    return respond


class FakeOpenAIServer:
    """The server. Use as a context manager, or call start()/stop()."""

    def __init__(
        self,
        responder: Responder | Reply | None = None,
        *,
        latency: float = 0.0,
        log_path: str | Path | None = None,
        models: Iterable[str] = (DEFAULT_MODEL,),
        port: int = 0,
    ) -> None:
        self.responder: Responder = _as_responder(responder or valid_answer(4))
        self.latency = latency
        self.log_path = Path(log_path) if log_path else None
        self.models = list(models)
        self.requested_port = port  # 0: any free port
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.in_flight = 0
        self.max_in_flight = 0  # the most chat requests handled at the same time

    # -- lifecycle --
    def start(self) -> FakeOpenAIServer:
        handler = type("Handler", (_Handler,), {"fake": self})
        httpd = _Server(("127.0.0.1", self.requested_port), handler)
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, name="fake-openai", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- addresses --
    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the fake server is not running; call start() first")
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        """What to pass as api_base to litellm/dspy."""
        return f"{self.url}/v1"

    # -- scripting and records --
    def set_responder(self, responder: Responder | Reply) -> None:
        self.responder = _as_responder(responder)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path.endswith("/chat/completions")]

    @property
    def calls(self) -> int:
        """How many chat-completion requests arrived."""
        return len(self.chat_requests)

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()
            self.max_in_flight = 0

    def stats(self) -> dict[str, int]:
        """What ``GET /stats`` answers: chat requests so far and the in-flight counts."""
        calls = self.calls
        with self._lock:
            return {"calls": calls, "max_in_flight": self.max_in_flight, "in_flight": self.in_flight}

    def reset_max_in_flight(self) -> None:
        """Start a new max_in_flight measurement (requests now in flight count towards it)."""
        with self._lock:
            self.max_in_flight = self.in_flight

    def _enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)
            if self.log_path is not None:
                entry = {
                    "method": request.method,
                    "path": request.path,
                    "received_at": request.received_at,
                    "status": request.replied_status,
                    "json": request.json,
                }
                with self.log_path.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(entry) + "\n")

    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)


def _as_responder(value: Responder | Reply) -> Responder:
    return always(value) if isinstance(value, Reply) else value


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # hung handlers must not block stop()
    request_queue_size = 1024  # listen() backlog: the default 5 drops bursts of 64 connections


class _Handler(BaseHTTPRequestHandler):
    fake: FakeOpenAIServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # otherwise each response waits ~40 ms for a delayed ACK

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        arrived = time.monotonic()
        if self.path.rstrip("/").endswith("/models"):
            body = {"object": "list", "data": [{"id": m, "object": "model", "owned_by": "fake"} for m in self.fake.models]}
            status = 200
        elif self.path.rstrip("/").endswith("/stats"):
            body, status = self.fake.stats(), 200
        else:
            body, status = error_body(f"no route {self.path}", "not_found"), 404
        self.fake._record(RecordedRequest("GET", self.path, dict(self.headers), None, arrived, status))
        self._send(Reply(status, body))

    def do_POST(self) -> None:
        arrived = time.monotonic()
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            payload = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            payload = None
        if self.path.rstrip("/").endswith("/stats/reset"):
            self.fake.reset_max_in_flight()
            self._send(Reply(200, self.fake.stats()))
            return
        if payload is None:
            reply = Reply(400, error_body("request body is not JSON", "invalid_request_error"))
        elif not self.path.rstrip("/").endswith("/chat/completions"):
            reply = Reply(404, error_body(f"no route {self.path}", "not_found"))
        else:
            try:
                reply = self.fake.responder(payload)
            except Exception as exc:  # a broken script shows up as a 500 the test can see
                reply = Reply(500, error_body(f"responder raised {exc!r}", "fake_error"))
        self.fake._record(RecordedRequest("POST", self.path, dict(self.headers), payload, arrived, reply.status))
        self.fake._enter()
        try:
            self.fake._wait(self.fake.latency + reply.delay)
            self._send(reply)
        finally:
            self.fake._leave()

    def _send(self, reply: Reply) -> None:
        body = reply.body
        if isinstance(body, dict):
            data, ctype = json.dumps(body).encode(), "application/json"
        elif isinstance(body, str):
            data, ctype = body.encode(), "text/plain"
        else:
            data, ctype = body or b"", "application/octet-stream"
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
            self.close_connection = True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a fake OpenAI chat API on 127.0.0.1.")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    parser.add_argument("--rating", type=int, default=4, help="the rating every answer gives")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free port)")
    args = parser.parse_args(argv)
    with FakeOpenAIServer(valid_answer(args.rating), latency=args.latency, port=args.port) as server:
        print(f"fake OpenAI server on {server.api_base} (Ctrl-C to stop)", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
