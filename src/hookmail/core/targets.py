"""Which webhook target addresses are allowed: the SSRF guard's rule."""

from __future__ import annotations

import ipaddress


def forbidden_reason(address: str) -> str | None:
    """Why a target may not be reached at `address`, or None when it is a public address."""
    ip = ipaddress.ip_address(address)
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for flag, what in (
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local"),
        (ip.is_multicast, "multicast"),
        (ip.is_unspecified, "unspecified"),
        (ip.is_reserved, "reserved"),
        (ip.is_private, "private"),
        (not ip.is_global, "not globally routable"),
    ):
        if flag:
            return f"{address} is a {what} address"
    return None
