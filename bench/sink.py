"""A webhook receiver for bench/e2e.py, in a process of its own: asyncio (uvloop) and httptools,
so that receiving costs little and never waits for the sender's GIL.

    python bench/sink.py PORT OUT.json

Answers every POST 200 at once; `GET /_count` gives the number of POSTs so far. On SIGTERM it
writes OUT.json: the `subject` of each POSTed JSON body, in arrival order. 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys

import httptools
import orjson
import uvloop

_OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"


class _Sink(asyncio.Protocol):
    subjects: list[str] = []  # noqa: RUF012 (one sink per process: shared on purpose)

    def __init__(self) -> None:
        self._parser = httptools.HttpRequestParser(self)
        self._body: list[bytes] = []
        self._url = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            if self._transport is not None:
                self._transport.close()

    def on_url(self, url: bytes) -> None:
        self._url = url

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        assert self._transport is not None
        if self._parser.get_method() == b"GET":
            count = str(len(_Sink.subjects)).encode()
            head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(count)}\r\n\r\n".encode()
            self._transport.write(head + count)
            return
        body, self._body = b"".join(self._body), []
        try:
            _Sink.subjects.append(str(orjson.loads(body).get("subject")))
        except (orjson.JSONDecodeError, AttributeError):
            _Sink.subjects.append("")
        self._transport.write(_OK)


async def _serve(port: int, out: str) -> None:
    loop = asyncio.get_running_loop()
    stopped = loop.create_future()
    loop.add_signal_handler(signal.SIGTERM, stopped.set_result, None)
    server = await loop.create_server(_Sink, "127.0.0.1", port)
    await stopped
    server.close()
    with open(out, "w") as file:
        json.dump(_Sink.subjects, file)


if __name__ == "__main__":
    uvloop.install()
    asyncio.run(_serve(int(sys.argv[1]), sys.argv[2]))
