"""A loopback Slack incoming-webhook receiver for tests.

Listens on 127.0.0.1 on a random port and records every payload it is sent. Its ``mode``
simulates Slack's bad days: ``"ok"`` answers 200 "ok", ``"error"`` answers 500, ``"slow"``
waits ``delay`` seconds before answering (past a client timeout), and ``stop()`` closes the
socket so the next post gets connection refused.

    with SlackReceiver() as slack:
        SlackWebhookNotifier(slack.url).send(message)
        assert slack.payloads[0]["text"].startswith(":white_check_mark:")
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

Mode = Literal["ok", "error", "slow"]


class SlackReceiver:
    """Records every webhook payload; ``payloads`` holds the parsed JSON bodies in arrival order."""

    def __init__(self, mode: Mode = "ok", delay: float = 2.0) -> None:
        self.mode: Mode = mode
        self.delay = delay
        self.payloads: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.paths.append(self.path)
                    receiver.payloads.append(json.loads(body or b"null"))
                if receiver.mode == "slow":
                    time.sleep(receiver.delay)
                status, text = (500, b"internal_error") if receiver.mode == "error" else (200, b"ok")
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(text)))
                    self.end_headers()
                    self.wfile.write(text)
                except OSError:
                    pass  # the client gave up (timeout): nothing to answer

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread: threading.Thread | None = None
        self._stopped = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/services/T000/B000/secret-token"

    def start(self) -> SlackReceiver:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close the socket: later posts get connection refused."""
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> SlackReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self._thread is not None:
            self.stop()
