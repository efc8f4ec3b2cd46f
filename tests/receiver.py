"""A real HTTP server on 127.0.0.1 that records webhook POSTs and answers as told."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from attrs import define, field


@define
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@define
class Receiver:
    """`plan` holds (status, extra headers, delay seconds) answers, used in order; once it
    runs out every POST gets `default`."""

    port: int = 0
    received: list[Received] = field(factory=list)
    plan: list[tuple[int, dict[str, str], float]] = field(factory=list)
    default: int = 200
    lock: threading.Lock = field(factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def next_answer(self) -> tuple[int, dict[str, str], float]:
        with self.lock:
            return self.plan.pop(0) if self.plan else (self.default, {}, 0.0)

    def bodies(self) -> list[bytes]:
        with self.lock:
            return [r.body for r in self.received]


def wait_for(predicate: Callable[[], bool], timeout: float = 20.0, what: str = "") -> None:
    """Poll until `predicate` holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")


@contextmanager
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            if len(body) < length:  # the sender died mid-request (a killed worker): no POST
                self.close_connection = True
                return
            with state.lock:
                state.received.append(Received(self.path, dict(self.headers.items()), body))
            status, extra, delay = state.next_answer()
            if delay:
                time.sleep(delay)  # the slow target under test, not test pacing
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            return None

    class Server(ThreadingHTTPServer):
        # socketserver's backlog of 5 resets connections when a worker opens 32 at once
        request_queue_size = 128

    server = Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
