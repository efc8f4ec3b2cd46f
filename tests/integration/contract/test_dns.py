"""The TXT resolver contract: the stub and dnspython against a real DNS server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hookmail.adapters.dns import DnspythonResolver
from hookmail.adapters.memory import StubResolver
from hookmail.core.ports import DnsFailure, TxtResolver
from tests.dns_server import dns_server

LONG = "v=DKIM1; k=rsa; p=" + "A" * 400  # over 255 bytes: split into strings, joined back


@pytest.fixture(params=["stub", pytest.param("dnspython", marks=pytest.mark.integration)])
def resolver(request: pytest.FixtureRequest) -> Iterator[TxtResolver]:
    records = {
        "_hookmail.example.com": ["hookmail-verify=abc", "other"],
        "long.example.com": [LONG],
    }
    failing = {"broken.example.com"}
    if request.param == "stub":
        yield StubResolver(records=records, failing=failing)
        return
    with dns_server() as server:
        server.zone.txt.update(records)
        server.zone.failing.update(failing)
        yield DnspythonResolver(server.nameservers, timeout=2)


def test_txt_records_are_answered(resolver: TxtResolver) -> None:
    assert sorted(resolver.txt("_hookmail.example.com")) == ["hookmail-verify=abc", "other"]


def test_long_records_come_back_whole(resolver: TxtResolver) -> None:
    assert resolver.txt("long.example.com") == [LONG]


def test_a_missing_name_is_no_records(resolver: TxtResolver) -> None:
    assert resolver.txt("_hookmail.missing.example") == []


def test_a_failing_server_is_a_dns_failure_not_an_empty_answer(resolver: TxtResolver) -> None:
    with pytest.raises(DnsFailure):
        resolver.txt("broken.example.com")


@pytest.mark.integration
def test_an_unreachable_server_times_out_as_a_failure() -> None:
    # nothing listens on this port: the lookup must end within its lifetime, as a failure
    with dns_server() as server:
        port = server.port
    with pytest.raises(DnsFailure):
        DnspythonResolver((("127.0.0.1", port),), timeout=0.5).txt("example.com")
