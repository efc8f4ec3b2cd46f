from __future__ import annotations

import ipaddress

from falcon import testing

from hookmail.entrypoints.http.context import client_address

PROXY = (ipaddress.ip_network("10.0.0.0/8"),)


def _req(peer: str, forwarded: str | None = None):  # type: ignore[no-untyped-def]
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return testing.create_req(remote_addr=peer, headers=headers)


def test_the_peer_counts_when_no_proxy_is_trusted() -> None:
    assert client_address(_req("203.0.113.5", "1.2.3.4"), ()) == "203.0.113.5"


def test_forwarded_for_counts_only_from_a_trusted_proxy() -> None:
    assert client_address(_req("10.0.0.2", "198.51.100.9"), PROXY) == "198.51.100.9"
    assert client_address(_req("203.0.113.5", "198.51.100.9"), PROXY) == "203.0.113.5"


def test_a_spoofed_leftmost_hop_is_ignored() -> None:
    spoofed = "6.6.6.6, 198.51.100.9, 10.0.0.7"
    assert client_address(_req("10.0.0.2", spoofed), PROXY) == "198.51.100.9"
