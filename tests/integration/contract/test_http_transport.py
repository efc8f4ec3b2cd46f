"""The webhook HTTP client (adapters/http.py) against real servers on 127.0.0.1: TLS with the
URL's host while connected to the checked address, answers of every shape HTTP allows, big
bodies, and keep-alive connections a target closed while they were idle."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import trustme

from hookmail.adapters.http import MAX_RESPONSE, PinnedHttpTransport

pytestmark = pytest.mark.integration

Answer = Callable[[socket.socket, bytes], bool]  # (connection, request) -> keep it open


def _read_request(connection: socket.socket) -> bytes | None:
    """One whole request (head and Content-Length body), or None at the end of the stream."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = connection.recv(65536)
        if not chunk:
            return None
        body += chunk
    return head + b"\r\n\r\n" + body


@contextmanager
def raw_server(answer: Answer) -> Iterator[dict[str, object]]:
    """A server that reads whole requests and lets `answer` write the reply bytes."""
    state: dict[str, object] = {"connections": 0, "requests": []}
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    state["port"] = server.getsockname()[1]

    def serve(connection: socket.socket) -> None:
        with connection, suppress(OSError):  # the client may reset it: the test checks that
            while (request := _read_request(connection)) is not None:
                state["requests"].append(request)  # type: ignore[attr-defined]
                if not answer(connection, request):
                    return

    def accept() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            state["connections"] = int(state["connections"]) + 1  # type: ignore[call-overload]
            threading.Thread(target=serve, args=(connection,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield state
    finally:
        server.close()


def _post(http: PinnedHttpTransport, port: object, body: bytes = b"{}") -> tuple[int, str | None]:
    outcome = http.post(f"http://127.0.0.1:{port}/hook", headers={}, body=body, timeout=3)
    return outcome.http_status, outcome.error


def test_answers_of_every_shape_give_their_status() -> None:
    shapes = [
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
        b"HTTP/1.1 429 Too Many\r\nRetry-After: 30\r\nContent-Length: 0\r\n\r\n",
    ]
    answers = iter(shapes)

    def answer(connection: socket.socket, _request: bytes) -> bool:
        connection.sendall(next(answers))
        return True

    http = PinnedHttpTransport(allow_private=True)
    with raw_server(answer) as server:
        statuses = [_post(http, server["port"]) for _ in shapes]
    http.close()
    assert [s for s, _ in statuses] == [200, 202, 204, 429]
    assert server["connections"] == 1  # each answer was whole: one keep-alive connection


def test_the_retry_after_of_an_answer_is_read() -> None:
    def answer(connection: socket.socket, _request: bytes) -> bool:
        connection.sendall(b"HTTP/1.1 503 Busy\r\nRetry-After: 42\r\nContent-Length: 0\r\n\r\n")
        return True

    with raw_server(answer) as server:
        outcome = PinnedHttpTransport(allow_private=True).post(
            f"http://127.0.0.1:{server['port']}/", headers={}, body=b"", timeout=3
        )
    assert (outcome.http_status, outcome.retry_after) == (503, 42)


def test_an_answer_ended_by_the_close_and_a_huge_one_are_read_no_further() -> None:
    answers = iter(
        [
            (b"HTTP/1.0 200 OK\r\n\r\nthe body runs to the close", False),
            (b"HTTP/1.1 201 Created\r\nContent-Length: 10000000\r\n\r\n" + b"x" * 200_000, True),
        ]
    )

    def answer(connection: socket.socket, _request: bytes) -> bool:
        data, keep = next(answers)
        connection.sendall(data)
        return keep

    http = PinnedHttpTransport(allow_private=True)
    with raw_server(answer) as server:
        assert _post(http, server["port"]) == (200, None)
        assert _post(http, server["port"]) == (201, None)  # 64 KiB read, not 10 MB
    http.close()
    assert server["connections"] == 2  # the close-delimited one could not be reused
    assert MAX_RESPONSE < 200_000


def test_a_connection_the_target_closed_while_idle_is_replaced_not_failed() -> None:
    def answer(connection: socket.socket, _request: bytes) -> bool:
        # keep-alive by HTTP/1.1's default, but the target closes it once answered (as
        # servers do after their idle timeout)
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        connection.shutdown(socket.SHUT_RDWR)
        return False

    http = PinnedHttpTransport(allow_private=True)
    with raw_server(answer) as server:
        results = [_post(http, server["port"]) for _ in range(3)]
    http.close()
    assert results == [(200, None)] * 3
    assert server["connections"] == 3
    assert len(server["requests"]) == 3  # type: ignore[arg-type]


def test_an_invalid_answer_is_a_failed_attempt() -> None:
    def answer(connection: socket.socket, _request: bytes) -> bool:
        connection.sendall(b"SMTP/1.0 250 not http at all\r\n\r\n")
        return False

    with raw_server(answer) as server:
        status, error = _post(PinnedHttpTransport(allow_private=True), server["port"])
    assert status == 0
    assert error is not None
    assert error.startswith("connection failed")


def test_a_big_body_arrives_whole() -> None:
    body = bytes(range(256)) * (24 * 1024)  # 6 MiB: written in slices as the socket drains

    def answer(connection: socket.socket, _request: bytes) -> bool:
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        return True

    http = PinnedHttpTransport(allow_private=True)
    with raw_server(answer) as server:
        assert _post(http, server["port"], body) == (200, None)
    http.close()
    request = server["requests"][0]  # type: ignore[index]
    assert request.endswith(b"\r\n\r\n" + body)
    assert f"Content-Length: {len(body)}".encode() in request


# -- TLS ----------------------------------------------------------------------------------


@contextmanager
def https_server(ca: trustme.CA, name: str) -> Iterator[dict[str, object]]:
    seen: dict[str, object] = {}
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(name).configure_cert(context)

    def sni(_sock: ssl.SSLObject, server_name: str | None, _context: ssl.SSLContext) -> None:
        seen.setdefault("sni", []).append(server_name)  # type: ignore[attr-defined]

    context.sni_callback = sni

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            seen["host"] = self.headers["Host"]
            seen["body"] = self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    seen["port"] = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        server.shutdown()
        server.server_close()


def test_https_checks_the_urls_host_while_connected_to_the_checked_address() -> None:
    ca = trustme.CA()
    client = ssl.create_default_context()
    ca.configure_trust(client)
    resolved: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        resolved.append(host)
        return ["127.0.0.1"]

    with https_server(ca, "hooks.example.test") as seen:
        http = PinnedHttpTransport(allow_private=True, resolve=resolve, tls=client)
        good = http.post(
            f"https://hooks.example.test:{seen['port']}/in", headers={}, body=b"[1]", timeout=3
        )
        wrong = http.post(
            f"https://other.example.test:{seen['port']}/in", headers={}, body=b"[1]", timeout=3
        )
        http.close()
    assert good.http_status == 200, good.error
    assert seen["sni"] == ["hooks.example.test", "other.example.test"]
    assert seen["host"] == f"hooks.example.test:{seen['port']}"
    assert seen["body"] == b"[1]"
    assert resolved == ["hooks.example.test", "other.example.test"]
    # the certificate is for hooks.example.test: another name fails, whatever the address
    assert wrong.http_status == 0
    assert "certificate" in (wrong.error or "").lower()


def test_an_async_caller_posts_on_its_own_loop() -> None:
    def answer(connection: socket.socket, _request: bytes) -> bool:
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        return True

    http = PinnedHttpTransport(allow_private=True)

    async def many(port: object) -> list[int]:
        url = f"http://127.0.0.1:{port}/"
        outcomes = await asyncio.gather(
            *(http.post_async(url, headers={"X-N": str(n)}, body=b"", timeout=3) for n in range(8))
        )
        return [o.http_status for o in outcomes]

    with raw_server(answer) as server:
        assert asyncio.run(many(server["port"])) == [200] * 8
    http.close()
    assert len(server["requests"]) == 8  # type: ignore[arg-type]
