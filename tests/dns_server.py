"""A real DNS server on 127.0.0.1 (dnslib), answering from a dict the test controls."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from dnslib import QTYPE, RCODE, RR, TXT, A, DNSRecord
from dnslib.server import BaseResolver, DNSHandler, DNSLogger, DNSServer


class _Zone(BaseResolver):  # type: ignore[misc]
    def __init__(self) -> None:
        self.txt: dict[str, list[str]] = {}
        self.a: dict[str, list[str]] = {}
        self.failing: set[str] = set()
        self.queries: list[tuple[str, str]] = []

    def resolve(self, request: DNSRecord, handler: DNSHandler) -> DNSRecord:
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        qtype = QTYPE[request.q.qtype]
        self.queries.append((name, qtype))
        if name in self.failing:
            reply.header.rcode = RCODE.SERVFAIL
            return reply
        if qtype == "TXT" and name in self.txt:
            for value in self.txt[name]:
                chunks = [value[i : i + 255] for i in range(0, len(value), 255)] or [""]
                reply.add_answer(RR(name, QTYPE.TXT, rdata=TXT(chunks), ttl=60))
        elif qtype == "A" and name in self.a:
            for address in self.a[name]:
                reply.add_answer(RR(name, QTYPE.A, rdata=A(address), ttl=60))
        elif name not in self.txt and name not in self.a:
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


class DnsServer:
    """`zone.txt["_hookmail.example.com"] = ["hookmail-verify=…"]`; `port` to point at."""

    def __init__(self, zone: _Zone, server: DNSServer) -> None:
        self.zone = zone
        self._server = server

    @property
    def port(self) -> int:
        return int(self._server.server.server_address[1])

    @property
    def nameservers(self) -> tuple[tuple[str, int], ...]:
        return (("127.0.0.1", self.port),)


@contextmanager
def dns_server() -> Iterator[DnsServer]:
    zone = _Zone()
    quiet = DNSLogger(log="-request,-reply,-truncated,-error,-recv,-send,-data", prefix=False)
    server = DNSServer(zone, address="127.0.0.1", port=0, logger=quiet)
    server.start_thread()
    try:
        yield DnsServer(zone, server)
    finally:
        server.stop()
        server.server.server_close()
