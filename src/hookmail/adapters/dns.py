"""DNS through dnspython, honouring HOOKMAIL_DNS_NAMESERVERS (`ip` or `ip:port`)."""

from __future__ import annotations

import dns.exception
import dns.nameserver
import dns.resolver

from hookmail.core.ports import DnsFailure


class DnspythonResolver:
    def __init__(
        self, nameservers: tuple[tuple[str, int], ...] = (), *, timeout: float = 5.0
    ) -> None:
        if nameservers:
            self._resolver = dns.resolver.Resolver(configure=False)
            self._resolver.nameservers = [
                dns.nameserver.Do53Nameserver(host, port) for host, port in nameservers
            ]
        else:
            self._resolver = dns.resolver.Resolver()
        self._resolver.lifetime = timeout  # the whole lookup, every server and retry
        self._resolver.timeout = min(timeout, 2.0)

    @property
    def resolver(self) -> dns.resolver.Resolver:
        """The configured dnspython resolver, for libraries that look up other types."""
        return self._resolver

    def txt(self, name: str) -> list[str]:
        try:
            answer = self._resolver.resolve(name, "TXT", search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except dns.resolver.LifetimeTimeout:
            raise DnsFailure("no answer before the timeout") from None
        except dns.resolver.NoNameservers as exc:
            raise DnsFailure(f"every name server failed: {exc}") from None
        except dns.exception.DNSException as exc:
            raise DnsFailure(str(exc) or type(exc).__name__) from None
        return [b"".join(record.strings).decode("utf-8", "replace") for record in answer]
